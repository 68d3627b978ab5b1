using System.Globalization;
using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// Splits a template into tokens the way jinja2's lexer does, whitespace control included: <c>{%-</c>/<c>-%}</c>
/// strip all whitespace on that side; <c>trim_blocks</c> drops the first newline after a block or comment tag;
/// <c>lstrip_blocks</c> drops spaces and tabs between the start of a line and a block or comment tag; <c>+</c>
/// turns either off for one tag. Newlines are normalised to <c>\n</c> and one trailing newline is dropped
/// (jinja2's <c>keep_trailing_newline=False</c>).
/// </summary>
internal sealed class Lexer
{
    private static readonly string[] TwoCharOperators = ["//", "**", "==", "!=", ">=", "<="];
    private const string OneCharOperators = "+-*/%~[](){}<>=.:|,;";

    private readonly string _src;
    private readonly bool _trimBlocks, _lstripBlocks;
    private readonly List<Token> _tokens = [];
    private int _pos, _line = 1;
    private bool _lineStarting = true;

    private Lexer(string source, bool trimBlocks, bool lstripBlocks)
    {
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        _src = source.EndsWith('\n') ? source[..^1] : source;
        (_trimBlocks, _lstripBlocks) = (trimBlocks, lstripBlocks);
    }

    public static List<Token> Tokenize(string source, bool trimBlocks = true, bool lstripBlocks = true)
    {
        var lexer = new Lexer(source, trimBlocks, lstripBlocks);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int open = FindOpening(_pos);
            if (open < 0)
            {
                EmitData(_src[_pos..]);
                break;
            }
            string text = _src[_pos..open];
            char kind = _src[open + 1];
            int after = open + 2;
            char sign = after < _src.Length && _src[after] is '-' or '+' ? _src[after] : '\0';
            if (sign == '-')
                text = text.TrimEnd();
            else if (sign != '+' && _lstripBlocks && kind != '{')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || _lineStarting) && text.Length > lineStart && IsBlank(text.AsSpan(lineStart)))
                    text = text[..lineStart];
            }
            int dataLine = _line;
            _line += Count(_src.AsSpan(_pos, open - _pos), '\n');
            if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, dataLine));
            _pos = after + (sign == '\0' ? 0 : 1);
            if (kind == '#') LexComment(open);
            else LexTag(kind == '%');
        }
        _tokens.Add(new Token(TokenKind.End, "", _line));
    }

    private int FindOpening(int from)
    {
        for (int i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private void EmitData(string text)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Data, text, _line));
        _line += Count(text, '\n');
    }

    private void LexComment(int open)
    {
        int close = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (close < 0) throw new TemplateSyntaxException("Missing end of comment tag", _line);
        char sign = close > _pos && _src[close - 1] is '-' or '+' ? _src[close - 1] : '\0';
        _line += Count(_src.AsSpan(_pos, close - _pos), '\n');
        _pos = close + 2;
        AfterTag(sign, block: true);
    }

    private void LexTag(bool block)
    {
        int startLine = _line;
        _tokens.Add(new Token(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, block ? "{%" : "{{", _line));
        string end = block ? "%}" : "}}";
        int depth = 0;
        while (true)
        {
            SkipWhitespace();
            if (_pos >= _src.Length)
                throw new TemplateSyntaxException($"Unexpected end of template: the tag opened on line {startLine} is not closed", _line);
            if (depth == 0)
            {
                // jinja2 knows "+%}" (keep the newline) but not "+}}", where '+' is the operator.
                char sign = _src[_pos] == '-' || (block && _src[_pos] == '+') ? _src[_pos] : '\0';
                int at = _pos + (sign == '\0' ? 0 : 1);
                if (string.CompareOrdinal(_src, at, end, 0, 2) == 0)
                {
                    _tokens.Add(new Token(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, end, _line));
                    _pos = at + 2;
                    AfterTag(sign, block);
                    return;
                }
            }
            char c = _src[_pos];
            if (char.IsLetter(c) || c == '_') LexName();
            else if (char.IsAsciiDigit(c)) LexNumber();
            else if (c is '\'' or '"') LexString(c);
            else
            {
                string? op = TwoCharOperators.FirstOrDefault(o => string.CompareOrdinal(_src, _pos, o, 0, 2) == 0);
                if (op is null && OneCharOperators.Contains(c)) op = c.ToString();
                if (op is null) throw new TemplateSyntaxException($"Unexpected character '{c}'", _line);
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                _tokens.Add(new Token(TokenKind.Operator, op, _line));
                _pos += op.Length;
            }
        }
    }

    /// <summary>Whitespace control after a tag's end, and whether the next text starts a line (for lstrip).</summary>
    private void AfterTag(char sign, bool block)
    {
        int start = _pos;
        if (sign == '-')
            SkipWhitespace();
        else if (sign != '+' && block && _trimBlocks && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;
            _line++;
        }
        _lineStarting = _pos > start && _src[_pos - 1] == '\n';
    }

    private void SkipWhitespace()
    {
        while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos]))
        {
            if (_src[_pos] == '\n') _line++;
            _pos++;
        }
    }

    private void LexName()
    {
        int start = _pos;
        while (_pos < _src.Length && (char.IsLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        _tokens.Add(new Token(TokenKind.Name, _src[start.._pos], _line));
    }

    private void LexNumber()
    {
        int start = _pos;
        SkipDigits();
        bool isFloat = false;
        // After a dot (`x.0.1`) only an integer can follow, as jinja2's float pattern has a (?<!\.) look-behind.
        bool afterDot = start > 0 && _src[start - 1] == '.';
        if (!afterDot && _pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            _pos++;
            SkipDigits();
            isFloat = true;
        }
        if (!afterDot && _pos < _src.Length && _src[_pos] is 'e' or 'E')
        {
            int save = _pos++;
            if (_pos < _src.Length && _src[_pos] is '+' or '-') _pos++;
            if (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
            {
                SkipDigits();
                isFloat = true;
            }
            else _pos = save;
        }
        string text = _src[start.._pos].Replace("_", "");
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, _line));
    }

    private void SkipDigits()
    {
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || (_src[_pos] == '_' && _pos + 1 < _src.Length && char.IsAsciiDigit(_src[_pos + 1]))))
            _pos++;
    }

    private void LexString(char quote)
    {
        int line = _line;
        var sb = new StringBuilder();
        int i = _pos + 1;
        for (; i < _src.Length && _src[i] != quote; i++)
        {
            char c = _src[i];
            if (c == '\n') _line++;
            if (c != '\\') { sb.Append(c); continue; }
            if (++i >= _src.Length) break;
            i = DecodeEscape(i, sb);
        }
        if (i >= _src.Length) throw new TemplateSyntaxException("Unterminated string literal", line);
        _pos = i + 1;
        _tokens.Add(new Token(TokenKind.String, sb.ToString(), line));
    }

    /// <summary>Python's unicode-escape decoding of the escape whose letter is at <paramref name="i"/>.</summary>
    private int DecodeEscape(int i, StringBuilder sb)
    {
        char c = _src[i];
        switch (c)
        {
            case '\\': case '\'': case '"': sb.Append(c); return i;
            case 'n': sb.Append('\n'); return i;
            case 't': sb.Append('\t'); return i;
            case 'r': sb.Append('\r'); return i;
            case 'b': sb.Append('\b'); return i;
            case 'f': sb.Append('\f'); return i;
            case 'v': sb.Append('\v'); return i;
            case 'a': sb.Append('\a'); return i;
            case '\n': _line++; return i;
            case 'x': return AppendHex(i, 2, sb);
            case 'u': return AppendHex(i, 4, sb);
            case 'U': return AppendHex(i, 8, sb);
        }
        if (c is >= '0' and <= '7')
        {
            int end = i, value = 0;
            while (end < _src.Length && end < i + 3 && _src[end] is >= '0' and <= '7') value = value * 8 + (_src[end++] - '0');
            sb.Append((char)value);
            return end - 1;
        }
        sb.Append('\\').Append(c);
        return i;
    }

    private int AppendHex(int i, int digits, StringBuilder sb)
    {
        if (i + digits >= _src.Length || !int.TryParse(_src.AsSpan(i + 1, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
            throw new TemplateSyntaxException($"Invalid \\{_src[i]} escape in a string literal", _line);
        sb.Append(char.ConvertFromUtf32(code));
        return i + digits;
    }

    private static bool IsBlank(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
            if (!char.IsWhiteSpace(c)) return false;
        return true;
    }

    private static int Count(ReadOnlySpan<char> text, char c) => text.Count(c);
}
