using System.Text;

namespace Jamba.Tokenization;

/// <summary>
/// SentencePiece's BPE segmentation of already-normalized text, step for step as <c>bpe_model.cc</c> does it.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers runs the same greedy merge, but when two overlapping candidates have the same score (the
/// same piece at neighbouring positions, as in a run of spaces, "lll" or "----") it does not take the leftmost one
/// first as SentencePiece does, so "a   b", "Helllo" or "-----" come out differently. Still so in 3.0.0: its
/// <c>LlamaTokenizer</c> differs from SentencePiece 0.1.97 on 69 of the 455 strings of <c>spm-bpe-2k-extra.json</c>,
/// every one at a run of three or more equal symbols. So this loop stays, for <c>tokenizer.model</c> files only;
/// the library still does the normalization and the model checks. (<c>tokenizer.json</c> files merge by rank through
/// the library's <c>BpeTokenizer</c>, which matches Hugging Face; see <c>HuggingFaceTokenizer</c>.)
/// </remarks>
internal sealed class SentencePieceBpe
{
    private readonly IReadOnlyList<ModelPiece> _pieces;
    // Pieces a merge may produce (normal, user-defined, unused), as SentencePiece's `pieces_` map.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeable;
    // Every other piece (control, unknown, byte); SentencePiece's PieceToId looks here first.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reserved;
    private readonly string[] _userDefined;
    private readonly int[] _byteIds;
    private readonly bool _byteFallback;
    private readonly int _unknownId;

    public SentencePieceBpe(SentencePieceModel model, int unknownId)
    {
        _pieces = model.Pieces;
        _byteFallback = model.ByteFallback;
        _unknownId = unknownId;
        var mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        var reserved = new Dictionary<string, int>(StringComparer.Ordinal);
        _byteIds = Enumerable.Repeat(-1, 256).ToArray();
        var userDefined = new List<string>();
        for (int id = 0; id < _pieces.Count; id++)
        {
            var p = _pieces[id];
            bool isMergeable = p.Type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused;
            if (!(isMergeable ? mergeable : reserved).TryAdd(p.Text, id))
                throw new InvalidDataException($"piece '{p.Text}' appears twice (ids {(isMergeable ? mergeable : reserved)[p.Text]} and {id})");
            if (p.Type == PieceType.UserDefined && p.Text.Length > 0) userDefined.Add(p.Text);
            if (p.Type == PieceType.Byte && TryParseBytePiece(p.Text, out byte b)) _byteIds[b] = id;
        }
        _mergeable = mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _reserved = reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _userDefined = userDefined.OrderByDescending(s => s.Length).ToArray();
    }

    /// <summary>Parses a byte piece's text, <c>&lt;0xNN&gt;</c>.</summary>
    internal static bool TryParseBytePiece(string text, out byte value)
    {
        value = 0;
        return text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text[5] == '>'
            && byte.TryParse(text.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }

    /// <summary>Appends the ids of <paramref name="text"/> (normalized: spaces already U+2581) to <paramref name="output"/>.</summary>
    public void Encode(string text, List<int> output)
    {
        if (text.Length == 0) return;

        // A doubly linked list of symbols over the text; a merged-away symbol keeps length 0.
        int count = 0;
        var start = new int[text.Length];
        var length = new int[text.Length];
        var frozen = new bool[text.Length];
        for (int i = 0; i < text.Length; count++)
        {
            int userLength = MatchUserDefined(text, i);
            int charLength = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            start[count] = i;
            length[count] = userLength > 0 ? userLength : charLength;
            frozen[count] = userLength > 0; // SentencePiece never merges a user-defined symbol with its neighbours
            i += length[count];
        }
        var prev = new int[count];
        var next = new int[count];
        for (int s = 0; s < count; s++)
        {
            prev[s] = s - 1;
            next[s] = s + 1 < count ? s + 1 : -1;
        }

        var agenda = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(AgendaOrder.Instance);
        Dictionary<string, (string Left, string Right)>? unusedMerges = null;

        void TryAddPair(int left, int right)
        {
            if (left < 0 || right < 0 || frozen[left] || frozen[right]) return;
            var piece = text.AsSpan(start[left], length[left] + length[right]);
            if (!_mergeable.TryGetValue(piece, out int id)) return;
            agenda.Enqueue((left, right, piece.Length), (_pieces[id].Score, left));
            if (_pieces[id].Type == PieceType.Unused)
            {
                // An unused piece may be passed through while merging but is split back into its parts at the end.
                (unusedMerges ??= new())[piece.ToString()] =
                    (text.Substring(start[left], length[left]), text.Substring(start[right], length[right]));
            }
        }

        for (int s = 1; s < count; s++) TryAddPair(s - 1, s);

        while (agenda.TryDequeue(out var top, out _))
        {
            // Stale entry: one side was merged into something else since the pair was queued.
            if (length[top.Left] == 0 || length[top.Right] == 0 || length[top.Left] + length[top.Right] != top.Size) continue;

            length[top.Left] += length[top.Right];
            length[top.Right] = 0;
            next[top.Left] = next[top.Right];
            if (next[top.Right] >= 0) prev[next[top.Right]] = top.Left;

            TryAddPair(prev[top.Left], top.Left);
            TryAddPair(top.Left, next[top.Left]);
        }

        for (int s = 0; s >= 0; s = next[s])
            Emit(text.Substring(start[s], length[s]), unusedMerges, output);
    }

    private void Emit(string piece, Dictionary<string, (string Left, string Right)>? unusedMerges, List<int> output)
    {
        if (_reserved.TryGetValue(piece, out int id) || _mergeable.TryGetValue(piece, out id))
        {
            if (_pieces[id].Type == PieceType.Unused && unusedMerges is not null && unusedMerges.TryGetValue(piece, out var parts))
            {
                Emit(parts.Left, unusedMerges, output);
                Emit(parts.Right, unusedMerges, output);
                return;
            }
            if (_pieces[id].Type != PieceType.Unknown)
            {
                output.Add(id);
                return;
            }
        }

        if (!_byteFallback)
        {
            output.Add(_unknownId);
            return;
        }
        foreach (byte b in Encoding.UTF8.GetBytes(piece))
            output.Add(_byteIds[b] >= 0 ? _byteIds[b] : _unknownId);
    }

    private int MatchUserDefined(string text, int index)
    {
        foreach (string u in _userDefined) // longest first
            if (text.AsSpan(index).StartsWith(u, StringComparison.Ordinal)) return u.Length;
        return 0;
    }

    /// <summary>SentencePiece's agenda order: higher score first, and of equal scores the leftmost pair.</summary>
    private sealed class AgendaOrder : IComparer<(float Score, int Left)>
    {
        public static readonly AgendaOrder Instance = new();

        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            int byScore = b.Score.CompareTo(a.Score);
            return byScore != 0 ? byScore : a.Left.CompareTo(b.Left);
        }
    }
}
