using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// The <c>pre_tokenizer</c> of a <c>tokenizer.json</c>: splits a normalized stretch of text into the words that BPE
/// merges within. Supported: <c>Split</c> (isolated or removed matches), <c>ByteLevel</c> (GPT-2's regex and byte
/// alphabet), <c>Metaspace</c> and <c>Sequence</c>. A <c>null</c> pre-tokenizer keeps the stretch as one word, which is
/// how SentencePiece-converted files (Mistral, Llama 2) run.
/// </summary>
internal sealed class PreTokenization
{
    // GPT-2's split, used by ByteLevel when use_regex is on.
    private static readonly Regex Gpt2Split = new(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant);

    private delegate void Step(List<string> words, bool firstSection);
    private readonly List<Step> _steps = new();

    private PreTokenization() { }

    public static readonly PreTokenization None = new();

    public static PreTokenization Parse(JsonNode? node)
    {
        if (node is null) return None;
        var result = new PreTokenization();
        foreach (var step in JsonSteps.Flatten(node, "pretokenizers", "pre_tokenizer"))
        {
            string type = JsonSteps.TypeOf(step, "pre_tokenizer");
            result._steps.Add(type switch
            {
                "Split" => SplitStep(step),
                "ByteLevel" => ByteLevelStep(step["add_prefix_space"]?.GetValue<bool>() ?? true, step["use_regex"]?.GetValue<bool>() ?? true),
                "Metaspace" => MetaspaceStep(step),
                _ => throw new NotSupportedException($"tokenizer.json pre_tokenizer \"{type}\" is not supported (supported: Sequence, Split, ByteLevel, Metaspace)"),
            });
        }
        return result;
    }

    /// <summary>The words of one stretch of text; <paramref name="firstSection"/> when no added token came before it.</summary>
    public List<string> Apply(string text, bool firstSection)
    {
        var words = new List<string> { text };
        foreach (var step in _steps) step(words, firstSection);
        words.RemoveAll(w => w.Length == 0);
        return words;
    }

    private static void SplitEach(List<string> words, Func<string, IEnumerable<string>> split)
    {
        var result = words.SelectMany(split).ToList();
        words.Clear();
        words.AddRange(result);
    }

    /// <summary>Matches become words of their own (Isolated) or vanish (Removed); the text between them stays.</summary>
    private static IEnumerable<string> SplitOn(Regex pattern, string word, bool keepMatches)
    {
        int last = 0;
        foreach (Match m in pattern.Matches(word))
        {
            if (m.Length == 0) continue;
            if (m.Index > last) yield return word[last..m.Index];
            if (keepMatches) yield return m.Value;
            last = m.Index + m.Length;
        }
        if (last < word.Length) yield return word[last..];
    }

    private static Step SplitStep(JsonNode step)
    {
        var pattern = JsonSteps.Pattern(step["pattern"], "pre_tokenizer Split");
        string behavior = step["behavior"]?.GetValue<string>() ?? "Isolated";
        if (step["invert"]?.GetValue<bool>() == true)
            throw new NotSupportedException("tokenizer.json pre_tokenizer Split with invert: true is not supported");
        bool keep = behavior switch
        {
            "Isolated" => true,
            "Removed" => false,
            _ => throw new NotSupportedException($"tokenizer.json pre_tokenizer Split behavior \"{behavior}\" is not supported (supported: Isolated, Removed)"),
        };
        return (words, _) => SplitEach(words, w => SplitOn(pattern, w, keep));
    }

    private static Step ByteLevelStep(bool addPrefixSpace, bool useRegex) => (words, _) =>
        SplitEach(words, w =>
        {
            if (addPrefixSpace && !w.StartsWith(' ')) w = " " + w;
            var pieces = useRegex ? SplitOn(Gpt2Split, w, keepMatches: true) : new[] { w };
            return pieces.Select(p => ByteLevelAlphabet.Encode(p));
        });

    private static Step MetaspaceStep(JsonNode step)
    {
        string replacement = step["replacement"]?.GetValue<string>() ?? "\u2581";
        // Older files say add_prefix_space instead of prepend_scheme.
        string scheme = step["prepend_scheme"]?.GetValue<string>()
            ?? (step["add_prefix_space"]?.GetValue<bool>() == false ? "never" : "always");
        bool split = step["split"]?.GetValue<bool>() ?? true;
        return (words, first) => SplitEach(words, w =>
        {
            w = w.Replace(" ", replacement);
            bool prepend = scheme == "always" || (scheme == "first" && first);
            if (prepend && !w.StartsWith(replacement, StringComparison.Ordinal)) w = replacement + w;
            if (!split) return new[] { w };
            // Each replacement character starts a new word (MergedWithNext).
            var pieces = new List<string>();
            int start = 0;
            for (int i = w.IndexOf(replacement, 1, StringComparison.Ordinal); i > 0; i = w.IndexOf(replacement, i + 1, StringComparison.Ordinal))
            {
                pieces.Add(w[start..i]);
                start = i;
            }
            pieces.Add(w[start..]);
            return pieces;
        });
    }
}
