namespace Jamba.Tokenization.HuggingFace;

/// <summary>
/// Cuts text at added tokens the way Hugging Face's <c>AddedVocabulary</c> does: leftmost match first, the longest
/// token where several start at the same place, whitespace swallowed on the side a token's <c>lstrip</c>/<c>rstrip</c>
/// asks for, and <c>single_word</c> tokens only where no word character touches them.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>One piece of split text: plain text (with its start in the input), or an added token.</summary>
    public readonly record struct Piece(string Text, int Start, AddedToken? Token);

    public List<Piece> Split(string text)
    {
        var matches = new List<(int Start, int End, AddedToken Token)>();
        for (int i = 0; i < text.Length;)
        {
            var token = _byFirstChar.Count == 0 ? null : MatchAt(text, i);
            if (token is null)
            {
                i++;
                continue;
            }
            matches.Add((i, i + token.Content.Length, token));
            i += token.Content.Length;
        }

        var pieces = new List<Piece>();
        int cursor = 0;
        for (int m = 0; m < matches.Count; m++)
        {
            var (start, end, token) = matches[m];
            int textEnd = start;
            if (token.LStrip)
                while (textEnd > cursor && char.IsWhiteSpace(text[textEnd - 1])) textEnd--;
            if (textEnd > cursor) pieces.Add(new Piece(text[cursor..textEnd], cursor, null));
            pieces.Add(new Piece(token.Content, start, token));
            cursor = end;
            if (token.RStrip)
            {
                int limit = m + 1 < matches.Count ? matches[m + 1].Start : text.Length;
                while (cursor < limit && char.IsWhiteSpace(text[cursor])) cursor++;
            }
        }
        if (cursor < text.Length) pieces.Add(new Piece(text[cursor..], cursor, null));
        return pieces;
    }

    private AddedToken? MatchAt(string text, int i)
    {
        if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
        foreach (var t in candidates) // longest first
        {
            if (!text.AsSpan(i).StartsWith(t.Content, StringComparison.Ordinal)) continue;
            int end = i + t.Content.Length;
            if (t.SingleWord && ((i > 0 && IsWordChar(text[i - 1])) || (end < text.Length && IsWordChar(text[end])))) continue;
            return t;
        }
        return null;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
