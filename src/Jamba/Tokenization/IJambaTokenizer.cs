namespace Jamba.Tokenization;

/// <summary>
/// Turns text into the token ids a Jamba model reads and back. Implementations are immutable after construction and
/// safe to use from several threads at once.
/// </summary>
public interface IJambaTokenizer
{
    /// <summary>Number of ids; every id is in <c>0 .. VocabSize - 1</c>.</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, or <see langword="null"/> when the vocabulary has none.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id, or <see langword="null"/> when the vocabulary has none.</summary>
    int? EosId { get; }

    /// <summary>Padding id, or <see langword="null"/> when the vocabulary has none.</summary>
    int? PadId { get; }

    /// <summary>
    /// Encodes <paramref name="text"/>. <see langword="null"/> or empty text gives no ids (only BOS/EOS when asked).
    /// </summary>
    /// <param name="text">The text; encoded as it is, with no trimming.</param>
    /// <param name="addBos">Put <see cref="BosId"/> first.</param>
    /// <param name="addEos">Put <see cref="EosId"/> last.</param>
    /// <exception cref="InvalidOperationException">BOS or EOS is asked for but the vocabulary has none.</exception>
    IReadOnlyList<int> Encode(string? text, bool addBos = false, bool addEos = false);

    /// <summary>Decodes ids to text.</summary>
    /// <param name="ids">The ids.</param>
    /// <param name="skipSpecialTokens">
    /// When <see langword="true"/>, control tokens (pad, BOS, EOS) produce no text; when <see langword="false"/>, they
    /// and the unknown token are written as their piece text.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside <c>0 .. VocabSize - 1</c>; the message names it.</exception>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>The piece text of <paramref name="id"/> (for example <c>▁the</c> or <c>&lt;0x0A&gt;</c>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="id"/> is outside <c>0 .. VocabSize - 1</c>.</exception>
    string IdToToken(int id);
}
