namespace Jamba.Chat.Templates;

/// <summary>Evaluated arguments of a call, filter or test.</summary>
internal sealed class CallArgs(List<object?> positional, List<KeyValuePair<string, object?>> keywords)
{
    public static readonly CallArgs Empty = new([], []);

    public List<object?> Positional { get; } = positional;

    public List<KeyValuePair<string, object?>> Keywords { get; } = keywords;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        foreach (var (key, value) in Keywords)
            if (key == name) return value;
        return index >= 0 && index < Positional.Count ? Positional[index] : fallback;
    }

    public bool Has(int index, string name) => (index >= 0 && index < Positional.Count) || Keywords.Any(k => k.Key == name);

    /// <summary>Fails like Python when more than <paramref name="max"/> arguments or unknown keywords are given.</summary>
    public CallArgs Check(string function, int max, params string[] names)
    {
        if (Positional.Count > max)
            throw new TemplateRuntimeException($"{function}() takes at most {max} argument(s) ({Positional.Count} given)");
        foreach (var (key, _) in Keywords)
            if (!names.Contains(key)) throw new TemplateRuntimeException($"{function}() got an unexpected keyword argument '{key}'");
        return this;
    }
}

/// <summary>A global function such as <c>range</c>, <c>namespace</c> or <c>raise_exception</c>.</summary>
internal sealed class BuiltinFunction(string name, Func<CallArgs, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(CallArgs args) => invoke(args);
}

/// <summary>A method looked up on a value (<c>message.content.strip</c>); <see cref="Methods"/> runs it when called.</summary>
internal sealed class BoundMethod(object target, string name)
{
    public object Target { get; } = target;

    public string Name { get; } = name;
}

/// <summary>A macro: its definition and the scope it was defined in, which its body reads at call time.</summary>
internal sealed class Macro(MacroStmt definition, Scope closure)
{
    public MacroStmt Definition { get; } = definition;

    public Scope Closure { get; } = closure;

    public string Name => Definition.Name;
}

/// <summary>The <c>loop</c> variable inside a <c>for</c>: index, index0, revindex, revindex0, first, last, length, previtem, nextitem, cycle.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int index0)
{
    public object? Get(string name) => name switch
    {
        "index0" => (long)index0,
        "index" => (long)index0 + 1,
        "revindex" => (long)(items.Count - index0),
        "revindex0" => (long)(items.Count - index0 - 1),
        "first" => index0 == 0,
        "last" => index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => index0 > 0 ? items[index0 - 1] : Undefined.WithHint("there is no previous item"),
        "nextitem" => index0 + 1 < items.Count ? items[index0 + 1] : Undefined.WithHint("there is no next item"),
        "cycle" => new BuiltinFunction("cycle", args =>
            args.Positional.Count == 0 ? throw new TemplateRuntimeException("no items for cycling given") : args.Positional[index0 % args.Positional.Count]),
        _ => Undefined.Member(this, name),
    };
}
