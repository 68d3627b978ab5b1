using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// The <c>model</c> of a <c>tokenizer.json</c> (type <c>BPE</c>): the merges run by Microsoft.ML.Tokenizers'
/// <see cref="BpeTokenizer"/> on one pre-tokenized word at a time, with the two model options it lacks added here:
/// <c>byte_fallback</c> (a character missing from the vocabulary becomes its UTF-8 byte pieces <c>&lt;0xNN&gt;</c>) and
/// <c>ignore_merges</c> (a word that is itself in the vocabulary is taken whole).
/// </summary>
internal sealed class BpeModel
{
    private readonly BpeTokenizer _bpe;
    private readonly IReadOnlyDictionary<string, int> _vocab;
    private readonly int[] _byteIds;
    private readonly int? _unknownId;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;

    public BpeModel(JsonNode model, string source)
    {
        string type = model["type"]?.GetValue<string>() ?? "BPE";
        if (type != "BPE")
            throw new NotSupportedException($"{source}: the model is of type \"{type}\"; only BPE tokenizer.json files are supported here (Unigram ones load through Microsoft.ML.Tokenizers' SentencePieceTokenizer.CreateFromTokenizerJson)");
        if (model["dropout"] is JsonValue d && d.GetValue<double>() > 0)
            throw new NotSupportedException($"{source}: BPE dropout is not supported");

        var vocabNode = model["vocab"] as JsonObject ?? throw new InvalidDataException($"{source}: model.vocab is missing or not an object");
        var vocab = new Dictionary<string, int>(vocabNode.Count, StringComparer.Ordinal);
        foreach (var (piece, id) in vocabNode) vocab[piece] = id!.GetValue<int>();
        _vocab = vocab;

        var merges = new List<string>();
        foreach (var m in model["merges"] as JsonArray ?? new JsonArray())
        {
            // Written as "left right" (older files) or as ["left", "right"].
            string merge = m is JsonArray pair ? $"{pair[0]!.GetValue<string>()} {pair[1]!.GetValue<string>()}" : m!.GetValue<string>();
            if (m is JsonArray p2 && (p2[0]!.GetValue<string>().Contains(' ') || p2[1]!.GetValue<string>().Contains(' ')))
                throw new NotSupportedException($"{source}: the merge [{p2[0]}, {p2[1]}] holds a space, which Microsoft.ML.Tokenizers' merge list cannot express");
            merges.Add(merge);
        }

        string? unk = model["unk_token"]?.GetValue<string>();
        _unknownId = unk is not null && vocab.TryGetValue(unk, out int u) ? u : null;
        _byteFallback = model["byte_fallback"]?.GetValue<bool>() ?? false;
        _ignoreMerges = model["ignore_merges"]?.GetValue<bool>() ?? false;
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++) _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;

        try
        {
            _bpe = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = merges,
                UnknownToken = unk,
                FuseUnknownTokens = model["fuse_unk"]?.GetValue<bool>() ?? false,
                ContinuingSubwordPrefix = model["continuing_subword_prefix"]?.GetValue<string>(),
                EndOfWordSuffix = model["end_of_word_suffix"]?.GetValue<string>(),
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{source}: Microsoft.ML.Tokenizers could not build the BPE model: {e.Message}", e);
        }
    }

    /// <summary>Every piece of the model's vocabulary and its id.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => _vocab;

    public void Encode(string word, List<int> output)
    {
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        var tokens = _bpe.EncodeToTokens(word, out _, considerPreTokenization: false, considerNormalization: false);
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!_byteFallback || _unknownId is not int unk || tokens[i].Id != unk)
            {
                output.Add(tokens[i].Id);
                continue;
            }
            // A run of unknown symbols (a character may be split into two UTF-16 halves) becomes its UTF-8 bytes.
            int start = tokens[i].Offset.Start.GetOffset(word.Length), end = tokens[i].Offset.End.GetOffset(word.Length);
            while (i + 1 < tokens.Count && tokens[i + 1].Id == unk)
                end = tokens[++i].Offset.End.GetOffset(word.Length);
            foreach (var rune in word[start..end].EnumerateRunes())
            {
                int n = rune.EncodeToUtf8(bytes);
                bool all = true;
                foreach (byte b in bytes[..n]) all &= _byteIds[b] >= 0;
                if (!all) output.Add(unk);
                else foreach (byte b in bytes[..n]) output.Add(_byteIds[b]);
            }
        }
    }
}
