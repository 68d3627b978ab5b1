namespace Jamba.Chat.Templates;

/// <summary>
/// Jinja's undefined value: a missing variable, key or attribute. Printing it gives an empty string, it is false,
/// iterates as empty and has length 0; anything more (an attribute of it, arithmetic, a call) fails with
/// <see cref="Message"/>, as jinja2's default <c>Undefined</c> does.
/// </summary>
internal sealed class Undefined
{
    private Undefined(string message) => Message = message;

    /// <summary>jinja2's message for this undefined, e.g. <c>'dict object' has no attribute 'role'</c>.</summary>
    public string Message { get; }

    public static Undefined Variable(string name) => new($"'{name}' is undefined");

    public static Undefined Member(object? owner, object key) => key is string name
        ? new($"{Python.Repr(Python.ObjectTypeRepr(owner))} has no attribute {Python.Repr(name)}")
        : new($"{Python.Repr(Python.ObjectTypeRepr(owner))} has no element {Python.Repr(key)}");

    public static Undefined WithHint(string hint) => new(hint);

    public TemplateRuntimeException Error() => new(Message);
}

/// <summary>A Python tuple (from <c>(a, b)</c>, <c>items()</c>, <c>varargs</c>): a read-only list printed with parentheses.</summary>
internal sealed class PyTuple(IReadOnlyList<object?> items)
{
    public IReadOnlyList<object?> Items { get; } = items;
}

/// <summary>A Python dict: insertion-ordered, keys compared with Python equality (so <c>1</c> and <c>1.0</c> are one key).</summary>
internal sealed class PyDict : OrderedDictionary<object, object?>
{
    public PyDict() : base(PyKeyComparer.Instance) { }
}

/// <summary>Python key equality and hashing for <see cref="PyDict"/>.</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => Python.Equal(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d => d == Math.Floor(d) && Math.Abs(d) < 9e18 ? ((long)d).GetHashCode() : d.GetHashCode(),
        string s => StringComparer.Ordinal.GetHashCode(s),
        _ => 0,
    };
}

/// <summary>jinja2's <c>namespace()</c>: the one object a template may assign attributes on (<c>set ns.x = ...</c>).</summary>
internal sealed class Namespace
{
    public PyDict Attributes { get; } = new();
}
