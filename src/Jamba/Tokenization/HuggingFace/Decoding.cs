using System.Text;
using System.Text.Json.Nodes;

namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// The <c>decoder</c> of a <c>tokenizer.json</c>: turns the tokens of some ids back into text, step by step as Hugging
/// Face's decoders do (each step maps the list of token strings to a new list). Supported: <c>Replace</c>,
/// <c>ByteFallback</c>, <c>Fuse</c>, <c>Strip</c>, <c>ByteLevel</c>, <c>Metaspace</c> and <c>Sequence</c>.
/// </summary>
internal sealed class Decoding
{
    private readonly List<Func<List<string>, List<string>>> _steps = new();
    private readonly bool _none;

    private Decoding(bool none) => _none = none;

    public static Decoding Parse(JsonNode? node)
    {
        if (node is null) return new Decoding(none: true);
        var result = new Decoding(none: false);
        foreach (var step in JsonSteps.Flatten(node, "decoders", "decoder"))
        {
            string type = JsonSteps.TypeOf(step, "decoder");
            result._steps.Add(type switch
            {
                "Replace" => ReplaceStep(step),
                "ByteFallback" => ByteFallback,
                "Fuse" => tokens => new List<string> { string.Concat(tokens) },
                "Strip" => StripStep(step),
                "ByteLevel" => ByteLevel,
                "Metaspace" => MetaspaceStep(step),
                _ => throw new NotSupportedException($"tokenizer.json decoder \"{type}\" is not supported (supported: Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel, Metaspace)"),
            });
        }
        return result;
    }

    public string Apply(List<string> tokens)
    {
        // Without a decoder Hugging Face joins the tokens with spaces.
        if (_none) return string.Join(' ', tokens);
        foreach (var step in _steps) tokens = step(tokens);
        return string.Concat(tokens);
    }

    private static Func<List<string>, List<string>> ReplaceStep(JsonNode step)
    {
        var pattern = JsonSteps.Pattern(step["pattern"], "decoder Replace");
        string content = (step["content"]?.GetValue<string>() ?? "").Replace("$", "$$");
        return tokens => tokens.Select(t => pattern.Replace(t, content)).ToList();
    }

    /// <summary>
    /// Runs of <c>&lt;0xNN&gt;</c> tokens become the UTF-8 text they spell; a run that is not valid UTF-8 becomes one
    /// U+FFFD per byte, as Hugging Face's ByteFallback decoder writes it.
    /// </summary>
    private static List<string> ByteFallback(List<string> tokens)
    {
        var result = new List<string>();
        var bytes = new List<byte>();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        void Flush()
        {
            if (bytes.Count == 0) return;
            try { result.Add(strict.GetString(bytes.ToArray())); }
            catch (DecoderFallbackException) { result.Add(new string('\uFFFD', bytes.Count)); }
            bytes.Clear();
        }
        foreach (var t in tokens)
        {
            if (SentencePieceBpe.TryParseBytePiece(t, out byte b)) bytes.Add(b);
            else
            {
                Flush();
                result.Add(t);
            }
        }
        Flush();
        return result;
    }

    private static Func<List<string>, List<string>> StripStep(JsonNode step)
    {
        char content = (step["content"]?.GetValue<string>() ?? " ")[0];
        int start = step["start"]?.GetValue<int>() ?? 0, stop = step["stop"]?.GetValue<int>() ?? 0;
        return tokens => tokens.Select(t =>
        {
            int from = 0, to = t.Length;
            while (from < start && from < t.Length && t[from] == content) from++;
            while (t.Length - to < stop && to > from && t[to - 1] == content) to--;
            return t[from..to];
        }).ToList();
    }

    /// <summary>All tokens' characters back to bytes, read as UTF-8 with each invalid sequence one U+FFFD.</summary>
    private static List<string> ByteLevel(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var t in tokens) ByteLevelAlphabet.AppendBytes(t, bytes);
        return new List<string> { Encoding.UTF8.GetString(bytes.ToArray()) };
    }

    private static Func<List<string>, List<string>> MetaspaceStep(JsonNode step)
    {
        string replacement = step["replacement"]?.GetValue<string>() ?? "\u2581";
        string scheme = step["prepend_scheme"]?.GetValue<string>()
            ?? (step["add_prefix_space"]?.GetValue<bool>() == false ? "never" : "always");
        return tokens => tokens.Select((t, i) =>
        {
            t = t.Replace(replacement, " ");
            return i == 0 && scheme != "never" && t.StartsWith(' ') ? t[1..] : t;
        }).ToList();
    }
}
