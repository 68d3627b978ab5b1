namespace Jamba.Chat.Templates;

/// <summary>An expression node of the template's syntax tree; <see cref="Line"/> is where it starts.</summary>
internal abstract record Expr(int Line);

internal sealed record Const(object? Value, int Line) : Expr(Line);

internal sealed record Name(string Id, int Line) : Expr(Line);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line) : Expr(Line);

/// <summary><c>obj.name</c>: attribute first, then item (jinja2's <c>getattr</c>).</summary>
internal sealed record GetAttr(Expr Target, string Attribute, int Line) : Expr(Line);

/// <summary><c>obj[key]</c>: item first, then attribute (jinja2's <c>getitem</c>).</summary>
internal sealed record GetItem(Expr Target, Expr Key, int Line) : Expr(Line);

/// <summary><c>start:stop:step</c> inside brackets; any part may be missing.</summary>
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

/// <summary>Arguments of a call, filter or test: positional, keyword, <c>*args</c>, <c>**kwargs</c>.</summary>
internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Keywords, Expr? Star, Expr? DoubleStar)
{
    public static readonly Arguments None = new([], [], null, null);
}

internal sealed record Call(Expr Callee, Arguments Args, int Line) : Expr(Line);

/// <summary><c>value | name(args)</c>.</summary>
internal sealed record FilterExpr(Expr Value, string Filter, Arguments Args, int Line) : Expr(Line);

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed record TestExpr(Expr Value, string Test, Arguments Args, bool Negated, int Line) : Expr(Line);

/// <summary><c>-x</c>, <c>+x</c> or <c>not x</c>.</summary>
internal sealed record Unary(string Op, Expr Operand, int Line) : Expr(Line);

/// <summary>Arithmetic, <c>~</c>, <c>and</c>, <c>or</c>.</summary>
internal sealed record Binary(string Op, Expr Left, Expr Right, int Line) : Expr(Line);

/// <summary>A chain of comparisons, <c>a &lt; b &lt;= c</c>, including <c>in</c> and <c>not in</c>.</summary>
internal sealed record Compare(Expr First, IReadOnlyList<(string Op, Expr Operand)> Rest, int Line) : Expr(Line);

/// <summary><c>then if test else otherwise</c>; without <c>else</c> the result is undefined when the test fails.</summary>
internal sealed record Conditional(Expr Test, Expr Then, Expr? Otherwise, int Line) : Expr(Line);
