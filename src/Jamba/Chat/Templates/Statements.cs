namespace Jamba.Chat.Templates;

/// <summary>A statement node of the template's syntax tree; <see cref="Line"/> is where it starts.</summary>
internal abstract record Stmt(int Line);

/// <summary>Literal template text.</summary>
internal sealed record TextStmt(string Text, int Line) : Stmt(Line);

/// <summary><c>{{ expr }}</c>.</summary>
internal sealed record PrintStmt(Expr Value, int Line) : Stmt(Line);

/// <summary><c>if</c> / <c>elif</c> branches and the optional <c>else</c>.</summary>
internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt> Else, int Line) : Stmt(Line);

/// <summary>
/// <c>for targets in iterable [if filter]</c> ... <c>else</c> ... <c>endfor</c>. <see cref="Targets"/> has several
/// names when the items are unpacked (<c>for key, value in ...</c>).
/// </summary>
internal sealed record ForStmt(IReadOnlyList<string> Targets, bool Unpack, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else, int Line) : Stmt(Line);

/// <summary>
/// <c>set name = expr</c>, <c>set a, b = expr</c>, <c>set ns.attr = expr</c> (when <see cref="Attribute"/> is set),
/// or the block form <c>set name</c> ... <c>endset</c> (when <see cref="Body"/> is set).
/// </summary>
internal sealed record SetStmt(IReadOnlyList<string> Targets, string? Attribute, Expr? Value, IReadOnlyList<Stmt>? Body, int Line) : Stmt(Line);

/// <summary>
/// <c>macro name(params with defaults)</c>. <see cref="UsesVarargs"/> and <see cref="UsesKwargs"/> say whether the
/// body reads <c>varargs</c> / <c>kwargs</c>: as in jinja2, only then does the macro accept extra arguments.
/// </summary>
internal sealed record MacroStmt(string Name, IReadOnlyList<string> Parameters, IReadOnlyList<Expr?> Defaults, IReadOnlyList<Stmt> Body, bool UsesVarargs, bool UsesKwargs, int Line) : Stmt(Line);

/// <summary><c>break</c> or <c>continue</c> (jinja2's loopcontrols extension).</summary>
internal sealed record LoopControlStmt(bool IsBreak, int Line) : Stmt(Line);

/// <summary>transformers' <c>generation</c> ... <c>endgeneration</c> block: renders its body unchanged.</summary>
internal sealed record GenerationStmt(IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);
