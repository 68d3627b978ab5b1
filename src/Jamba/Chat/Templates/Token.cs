namespace Jamba.Chat.Templates;

/// <summary>What a <see cref="Token"/> is.</summary>
internal enum TokenKind
{
    /// <summary>Literal text between tags, already trimmed by whitespace control.</summary>
    Data,
    /// <summary><c>{{</c></summary>
    VariableBegin,
    /// <summary><c>}}</c></summary>
    VariableEnd,
    /// <summary><c>{%</c></summary>
    BlockBegin,
    /// <summary><c>%}</c></summary>
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    /// <summary>An operator or punctuation: <c>+ - * / // % ** ~ == != &lt; &lt;= &gt; &gt;= = . : | , ( ) [ ] { }</c>.</summary>
    Operator,
    End,
}

/// <summary>One token; <see cref="Value"/> is the decoded text (a string literal without quotes and escapes).</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Line)
{
    public bool IsOperator(string op) => Kind == TokenKind.Operator && Value == op;

    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.Data => "template data",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}
