namespace Jamba.Chat.Templates;

/// <summary>
/// Variables of one frame. Lookups fall through to the parent. As in jinja2, a <c>for</c> iteration and a macro
/// call each get a fresh frame, so a <c>set</c> inside them is not seen after them (use a namespace for that);
/// <c>if</c> blocks share their enclosing frame.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope._vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;

    public Scope? Parent { get; } = parent;
}
