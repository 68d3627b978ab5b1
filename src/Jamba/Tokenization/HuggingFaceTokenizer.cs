using System.Text.Json;
using System.Text.Json.Nodes;
using Jamba.Tokenization.HuggingFace;

namespace Jamba.Tokenization;

/// <summary>
/// A Hugging Face fast tokenizer read from <c>tokenizer.json</c> (and the <c>tokenizer_config.json</c> beside it), giving
/// the ids and text that Hugging Face's <c>tokenizers</c> gives: SentencePiece-style BPE with byte fallback (Mistral,
/// Llama 2, Jamba) and byte-level BPE (GPT-2, Llama 3, Qwen).
/// </summary>
/// <remarks>
/// Encoding runs Hugging Face's pipeline: the text is first cut at added tokens (so <c>&lt;|bom|&gt;</c> written in a
/// rendered chat prompt is one id, whatever <c>add_special_tokens</c> says), each stretch between them is normalized and
/// pre-tokenized, and each word goes through the BPE merges of Microsoft.ML.Tokenizers' <c>BpeTokenizer</c>. The steps
/// around the merges are read from the file here, because Microsoft.ML.Tokenizers 3.0 reads only Unigram
/// <c>tokenizer.json</c> files and has no byte fallback or <c>ignore_merges</c> for BPE (see docs/checkpoints.md).
/// </remarks>
public sealed class HuggingFaceTokenizer : IJambaTokenizer
{
    /// <summary>The file name of a Hugging Face fast tokenizer.</summary>
    public const string FileName = "tokenizer.json";
    /// <summary>The file beside it that names the special tokens.</summary>
    public const string ConfigFileName = "tokenizer_config.json";
    /// <summary>Older checkpoints name their special tokens here instead.</summary>
    public const string SpecialTokensMapFileName = "special_tokens_map.json";

    private readonly BpeModel _model;
    private readonly Normalization _normalization;
    private readonly PreTokenization _preTokenization;
    private readonly Decoding _decoding;
    private readonly AddedTokenSplitter _rawSplitter;
    private readonly AddedTokenSplitter _normalizedSplitter;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly string?[] _tokens;
    private readonly int[] _prefix;
    private readonly int[] _suffix;

    private HuggingFaceTokenizer(JsonNode tokenizer, JsonNode? config, string source)
    {
        _model = new BpeModel(tokenizer["model"] ?? throw new InvalidDataException($"{source} has no \"model\""), source);
        _normalization = Normalization.Parse(tokenizer["normalizer"]);
        _preTokenization = PreTokenization.Parse(tokenizer["pre_tokenizer"]);
        _decoding = Decoding.Parse(tokenizer["decoder"]);

        var added = new List<AddedToken>();
        foreach (var t in tokenizer["added_tokens"] as JsonArray ?? new JsonArray())
            added.Add(ReadAddedToken(t!, t!["id"]?.GetValue<int>() ?? throw new InvalidDataException($"{source}: an added token has no id")));
        // tokenizer_config.json may add tokens the tokenizer.json does not list (transformers adds them on load).
        if (config?["added_tokens_decoder"] is JsonObject decoderTokens)
            foreach (var (key, t) in decoderTokens)
                if (int.TryParse(key, out int id) && t is not null && added.All(a => a.Id != id)) added.Add(ReadAddedToken(t, id));
        _addedById = added.ToDictionary(t => t.Id);
        _rawSplitter = new AddedTokenSplitter(added.Where(t => !t.Normalized));
        _normalizedSplitter = new AddedTokenSplitter(added.Where(t => t.Normalized));

        int size = Math.Max(_model.Vocabulary.Count == 0 ? 0 : _model.Vocabulary.Values.Max() + 1, added.Count == 0 ? 0 : added.Max(t => t.Id) + 1);
        _tokens = new string?[size];
        foreach (var (piece, id) in _model.Vocabulary) _tokens[id] = piece;
        foreach (var t in added) _tokens[t.Id] = t.Content;

        BosId = SpecialId(config, "bos_token");
        EosId = SpecialId(config, "eos_token");
        PadId = SpecialId(config, "pad_token");
        UnknownId = SpecialId(config, "unk_token");
        CleanUpTokenizationSpaces = config?["clean_up_tokenization_spaces"]?.GetValue<bool>() ?? true;

        (_prefix, _suffix) = Template(tokenizer["post_processor"], source);
        // LlamaTokenizerFast and its kin rebuild the template from these two flags when the config sets them.
        if (config?["add_bos_token"] is JsonValue addBos)
            _prefix = addBos.GetValue<bool>() && BosId is int b ? new[] { b } : Array.Empty<int>();
        if (config?["add_eos_token"] is JsonValue addEos)
            _suffix = addEos.GetValue<bool>() && EosId is int e ? new[] { e } : Array.Empty<int>();
    }

    /// <summary>
    /// Loads a <c>tokenizer.json</c>, with the <c>tokenizer_config.json</c> (or <c>special_tokens_map.json</c>) beside it
    /// when there is one.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a tokenizer.json; the message names it and the part at fault.</exception>
    /// <exception cref="NotSupportedException">The file uses a model or step this library does not reproduce; the message names it.</exception>
    public static HuggingFaceTokenizer FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer.json not found: {path}", path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string? config = null;
        foreach (string name in new[] { ConfigFileName, SpecialTokensMapFileName })
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                config = File.ReadAllText(candidate);
                break;
            }
        }
        return FromJson(File.ReadAllText(path), config, path);
    }

    /// <summary>Builds a tokenizer from the text of a <c>tokenizer.json</c> and, optionally, of its <c>tokenizer_config.json</c>.</summary>
    /// <param name="tokenizerJson">The <c>tokenizer.json</c> text.</param>
    /// <param name="tokenizerConfigJson">The <c>tokenizer_config.json</c> text, or null.</param>
    /// <param name="source">What to call the file in error messages.</param>
    public static HuggingFaceTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson = null, string source = FileName)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        JsonNode tokenizer;
        JsonNode? config;
        try
        {
            tokenizer = JsonNode.Parse(tokenizerJson) ?? throw new InvalidDataException($"{source} is empty");
            config = tokenizerConfigJson is null ? null : JsonNode.Parse(tokenizerConfigJson);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source} (or its {ConfigFileName}) is not valid JSON: {e.Message}", e);
        }
        try
        {
            return new HuggingFaceTokenizer(tokenizer, config, source);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
        {
            // A field of the wrong JSON kind (a string where a number belongs) surfaces as one of these.
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public int VocabSize => _tokens.Length;
    /// <inheritdoc/>
    public int? BosId { get; }
    /// <inheritdoc/>
    public int? EosId { get; }
    /// <inheritdoc/>
    public int? PadId { get; }
    /// <summary>The unknown token's id, or null when the configuration names none.</summary>
    public int? UnknownId { get; }
    /// <summary>Whether <see cref="Decode(IEnumerable{int}, bool)"/> removes spaces before punctuation (<c>clean_up_tokenization_spaces</c>).</summary>
    public bool CleanUpTokenizationSpaces { get; }
    /// <summary>The tokens of <c>added_tokens</c> (and of <c>added_tokens_decoder</c>), by id.</summary>
    public IReadOnlyDictionary<int, AddedToken> AddedTokens => _addedById;
    /// <summary>The ids Hugging Face puts before the text when special tokens are added (usually BOS, or none).</summary>
    public IReadOnlyList<int> PrefixIds => _prefix;
    /// <summary>The ids Hugging Face puts after the text when special tokens are added (usually none).</summary>
    public IReadOnlyList<int> SuffixIds => _suffix;

    /// <inheritdoc/>
    /// <remarks>Added tokens written in the text are encoded to their ids in any case.</remarks>
    public IReadOnlyList<int> Encode(string? text, bool addBos = false, bool addEos = false)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(BosId ?? throw new InvalidOperationException("This tokenizer has no BOS token (tokenizer_config.json names no bos_token)."));
        if (!string.IsNullOrEmpty(text)) EncodeText(text, ids);
        if (addEos) ids.Add(EosId ?? throw new InvalidOperationException("This tokenizer has no EOS token (tokenizer_config.json names no eos_token)."));
        return ids;
    }

    /// <summary>Hugging Face's <c>encode(text)</c> with <c>add_special_tokens=True</c>: <see cref="PrefixIds"/>, the text's ids, <see cref="SuffixIds"/>.</summary>
    public IReadOnlyList<int> EncodeWithSpecialTokens(string? text)
    {
        var ids = new List<int>(_prefix);
        if (!string.IsNullOrEmpty(text)) EncodeText(text, ids);
        ids.AddRange(_suffix);
        return ids;
    }

    private void EncodeText(string text, List<int> ids)
    {
        foreach (var piece in _rawSplitter.Split(text))
        {
            if (piece.Token is not null)
            {
                ids.Add(piece.Token.Id);
                continue;
            }
            bool first = piece.Start == 0;
            string normalized = _normalization.Apply(piece.Text);
            foreach (var sub in _normalizedSplitter.Split(normalized))
            {
                if (sub.Token is not null)
                {
                    ids.Add(sub.Token.Id);
                    continue;
                }
                foreach (string word in _preTokenization.Apply(sub.Text, first && sub.Start == 0))
                    _model.Encode(word, ids);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>Hugging Face's <c>decode</c>: special tokens kept as their text unless skipped, spaces cleaned up as the
    /// configuration says (<see cref="CleanUpTokenizationSpaces"/>).</remarks>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        Decode(ids, skipSpecialTokens, CleanUpTokenizationSpaces);

    /// <summary>Decodes with an explicit choice of clean-up (turn it off to get the encoded text back exactly).</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens, bool cleanUpTokenizationSpaces)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            string token = IdToTokenChecked(id, "ids");
            if (skipSpecialTokens && _addedById.TryGetValue(id, out var added) && added.Special) continue;
            tokens.Add(token);
        }
        if (tokens.Count == 0) return "";
        string text = _decoding.Apply(tokens);
        return cleanUpTokenizationSpaces ? CleanUp(text) : text;
    }

    /// <inheritdoc/>
    public string IdToToken(int id) => IdToTokenChecked(id, nameof(id));

    private string IdToTokenChecked(int id, string parameter)
    {
        if ((uint)id >= (uint)_tokens.Length || _tokens[id] is null)
            throw new ArgumentOutOfRangeException(parameter, id, $"Token id {id} is not in the vocabulary (0..{_tokens.Length - 1}).");
        return _tokens[id]!;
    }

    /// <summary>transformers' <c>clean_up_tokenization</c>: no space before . ? ! , and English contractions.</summary>
    private static string CleanUp(string text) => text
        .Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
        .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");

    private static AddedToken ReadAddedToken(JsonNode t, int id) => new(
        id,
        t["content"]?.GetValue<string>() ?? throw new InvalidDataException($"added token {id} has no content"),
        t["special"]?.GetValue<bool>() ?? false,
        t["lstrip"]?.GetValue<bool>() ?? false,
        t["rstrip"]?.GetValue<bool>() ?? false,
        t["single_word"]?.GetValue<bool>() ?? false,
        // Hugging Face's default: special tokens are matched as written, others in the normalized text.
        t["normalized"]?.GetValue<bool>() ?? !(t["special"]?.GetValue<bool>() ?? false));

    /// <summary>The id of a special token the configuration names (as a string or as <c>{"content": ...}</c>).</summary>
    private int? SpecialId(JsonNode? config, string key)
    {
        var node = config?[key];
        string? content = node switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonObject o => o["content"]?.GetValue<string>(),
            _ => null,
        };
        if (content is null) return null;
        foreach (var t in _addedById.Values) if (t.Content == content) return t.Id;
        return _model.Vocabulary.TryGetValue(content, out int id) ? id : null;
    }

    /// <summary>The special ids a <c>post_processor</c> puts around a single sequence.</summary>
    private static (int[] Prefix, int[] Suffix) Template(JsonNode? processor, string source)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        if (processor is null) return (prefix.ToArray(), suffix.ToArray());
        foreach (var step in JsonSteps.Flatten(processor, "processors", "post_processor"))
        {
            string type = JsonSteps.TypeOf(step, "post_processor");
            if (type == "ByteLevel") continue; // only trims offsets
            if (type != "TemplateProcessing")
                throw new NotSupportedException($"{source}: post_processor \"{type}\" is not supported (supported: TemplateProcessing, ByteLevel, Sequence)");
            var specials = step["special_tokens"] as JsonObject;
            bool afterSequence = false;
            foreach (var item in step["single"] as JsonArray ?? new JsonArray())
            {
                if (item?["Sequence"] is not null)
                {
                    afterSequence = true;
                    continue;
                }
                string name = item?["SpecialToken"]?["id"]?.GetValue<string>()
                    ?? throw new InvalidDataException($"{source}: a post_processor template item is neither Sequence nor SpecialToken");
                var idsNode = specials?[name]?["ids"] as JsonArray
                    ?? throw new InvalidDataException($"{source}: the post_processor template uses {name}, which its special_tokens do not define");
                (afterSequence ? suffix : prefix).AddRange(idsNode.Select(n => n!.GetValue<int>()));
            }
        }
        return (prefix.ToArray(), suffix.ToArray());
    }
}
