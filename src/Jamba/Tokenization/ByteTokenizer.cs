using System.Text;

namespace Jamba.Tokenization;

/// <summary>
/// A tokenizer that needs no file: four special tokens, then one id per UTF-8 byte. Useful for tests, tiny models
/// trained from scratch and anything that must run without a checkpoint's tokenizer.
/// </summary>
/// <remarks>
/// Ids: 0 <c>&lt;|pad|&gt;</c>, 1 <c>&lt;|startoftext|&gt;</c>, 2 <c>&lt;|endoftext|&gt;</c>, 3 <c>&lt;|unk|&gt;</c>,
/// then byte <c>b</c> is id <c>b + 4</c>; 260 ids in all. The special ids match Jamba's pad/bos/eos convention and the
/// byte ids match the byte-fallback ids of a SentencePiece model laid out the same way. Decoding never fails: bytes
/// that are not valid UTF-8 become U+FFFD, one per byte, as SentencePiece does.
/// </remarks>
public sealed class ByteTokenizer : IJambaTokenizer, IDecodeVocabulary
{
    /// <summary>Id of byte 0; byte <c>b</c> is id <c>b + ByteOffset</c>.</summary>
    public const int ByteOffset = 4;

    /// <summary>The id of the unknown token; never produced by <see cref="Encode"/>, which covers every byte.</summary>
    public const int UnknownId = 3;

    private static readonly string[] SpecialPieces = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|unk|>"];

    /// <summary>A shared instance; the tokenizer has no state.</summary>
    public static ByteTokenizer Instance { get; } = new();

    /// <inheritdoc/>
    public int VocabSize => ByteOffset + 256;

    /// <inheritdoc/>
    public int? BosId => 1;

    /// <inheritdoc/>
    public int? EosId => 2;

    /// <inheritdoc/>
    public int? PadId => 0;

    /// <inheritdoc/>
    /// <remarks>A lone surrogate in <paramref name="text"/> is encoded as the bytes of U+FFFD.</remarks>
    public IReadOnlyList<int> Encode(string? text, bool addBos = false, bool addEos = false)
    {
        byte[] bytes = string.IsNullOrEmpty(text) ? [] : Encoding.UTF8.GetBytes(text);
        var ids = new List<int>(bytes.Length + 2);
        if (addBos) ids.Add(BosId!.Value);
        foreach (byte b in bytes) ids.Add(b + ByteOffset);
        if (addEos) ids.Add(EosId!.Value);
        return ids;
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        DecodeState.DecodeAll(this, ids, skipSpecialTokens);

    /// <inheritdoc/>
    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is outside the vocabulary (0..{VocabSize - 1}).");
        return id < ByteOffset ? SpecialPieces[id] : $"<0x{id - ByteOffset:X2}>";
    }

    DecodeKind IDecodeVocabulary.KindOf(int id, out string piece, out byte value)
    {
        // All four specials, the unknown one included, count as control tokens: bytes cover every input, so an
        // unknown id can only come from elsewhere and is best left invisible.
        piece = id < ByteOffset ? SpecialPieces[id] : "";
        value = id < ByteOffset ? (byte)0 : (byte)(id - ByteOffset);
        return id < ByteOffset ? DecodeKind.Control : DecodeKind.Byte;
    }

    bool IDecodeVocabulary.StripsDummyPrefix => false;

    string IDecodeVocabulary.UnknownSurface => "";
}
