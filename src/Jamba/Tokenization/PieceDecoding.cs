using System.Text;

namespace Jamba.Tokenization;

/// <summary>How an id turns back into text.</summary>
internal enum DecodeKind
{
    /// <summary>Piece text, U+2581 standing for a space.</summary>
    Text,
    /// <summary>One raw byte of UTF-8 (byte fallback).</summary>
    Byte,
    /// <summary>A control token (pad, BOS, EOS): invisible unless special tokens are kept.</summary>
    Control,
    /// <summary>The unknown token.</summary>
    Unknown,
}

/// <summary>
/// What a tokenizer tells the shared decoder about its ids, so that <see cref="IJambaTokenizer.Decode"/> and
/// <see cref="IncrementalDecoder"/> run the very same rules and cannot drift apart.
/// </summary>
internal interface IDecodeVocabulary
{
    int VocabSize { get; }
    DecodeKind KindOf(int id, out string piece, out byte value);
    /// <summary>Whether the first piece loses one leading U+2581 (SentencePiece's dummy prefix).</summary>
    bool StripsDummyPrefix { get; }
    /// <summary>What the unknown token decodes to when special tokens are skipped.</summary>
    string UnknownSurface { get; }
}

/// <summary>
/// SentencePiece's decoding rules (<c>SentencePieceProcessor::Decode</c>, v0.1.97), fed one id at a time:
/// control pieces vanish; the first piece that is not a control piece drops one leading U+2581 when the model adds a
/// dummy prefix; U+2581 becomes a space; a run of byte pieces is read as UTF-8, every byte that does not start a
/// valid character becoming U+FFFD on its own; the unknown id shows SentencePiece's unknown surface.
/// </summary>
internal sealed class DecodeState(IDecodeVocabulary vocabulary, bool skipSpecialTokens)
{
    /// <summary>Decodes a whole id sequence with the shared piece rules (what every tokenizer's <c>Decode</c> does).</summary>
    public static string DecodeAll(IDecodeVocabulary vocabulary, IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var output = new StringBuilder();
        var state = new DecodeState(vocabulary, skipSpecialTokens);
        foreach (int id in ids) state.Add(id, output);
        state.Finish(output);
        return output.ToString();
    }

    private const char MetaSpace = '\u2581';
    private readonly List<byte> _pendingBytes = new();
    private bool _beforeFirstPiece = true;

    /// <summary>Appends to <paramref name="output"/> the text that <paramref name="id"/> completes.</summary>
    public void Add(int id, StringBuilder output)
    {
        if ((uint)id >= (uint)vocabulary.VocabSize)
            throw new ArgumentOutOfRangeException("ids", id, $"Token id {id} is outside the vocabulary (0..{vocabulary.VocabSize - 1}).");

        var kind = vocabulary.KindOf(id, out string piece, out byte value);
        if (kind == DecodeKind.Byte)
        {
            _pendingBytes.Add(value);
            _beforeFirstPiece = false;
            DrainBytes(output, final: false);
            return;
        }

        DrainBytes(output, final: true);
        switch (kind)
        {
            case DecodeKind.Control:
                // Kept control text does not count as the first piece: "<s>hello" stays without a space, as it would
                // read if the control token were skipped.
                if (!skipSpecialTokens) output.Append(piece);
                break;
            case DecodeKind.Unknown:
                output.Append(skipSpecialTokens ? vocabulary.UnknownSurface : piece);
                _beforeFirstPiece = false;
                break;
            default:
                var text = piece.AsSpan();
                if (_beforeFirstPiece && vocabulary.StripsDummyPrefix && text.Length > 0 && text[0] == MetaSpace)
                    text = text[1..];
                foreach (char c in text) output.Append(c == MetaSpace ? ' ' : c);
                _beforeFirstPiece = false;
                break;
        }
    }

    /// <summary>Ends the sequence: bytes still waiting for the rest of their character become U+FFFD.</summary>
    public void Finish(StringBuilder output) => DrainBytes(output, final: true);

    /// <summary>Whether bytes are held back waiting for the rest of a UTF-8 character.</summary>
    public bool HasPendingBytes => _pendingBytes.Count > 0;

    private void DrainBytes(StringBuilder output, bool final)
    {
        int used = 0;
        var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pendingBytes);
        while (used < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[used..], out Rune rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done)
            {
                output.Append(rune.ToString());
                used += consumed;
            }
            else if (status == System.Buffers.OperationStatus.NeedMoreData && !final)
            {
                break; // a valid start of a character whose remaining bytes have not arrived yet
            }
            else
            {
                // SentencePiece replaces one byte at a time (.NET's own decoder would fold a truncated sequence into
                // a single U+FFFD).
                output.Append('\uFFFD');
                used += 1;
            }
        }
        _pendingBytes.RemoveRange(0, used);
    }
}
