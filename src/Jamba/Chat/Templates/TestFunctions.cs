namespace Jamba.Chat.Templates;

/// <summary>jinja2's tests (<c>x is defined</c>, <c>x is string</c>, <c>n is divisibleby 3</c>, ...).</summary>
internal static class TestFunctions
{
    private static readonly Dictionary<string, Func<object?, CallArgs, bool>> All = new()
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["string"] = (v, _) => v is string,
        ["mapping"] = (v, _) => v is PyDict,
        ["iterable"] = (v, _) => v is string or List<object?> or PyTuple or PyDict or Undefined,
        ["sequence"] = (v, _) => v is string or List<object?> or PyTuple or PyDict,
        ["number"] = (v, _) => v is long or double or bool,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["boolean"] = (v, _) => v is bool,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["callable"] = (v, _) => v is Macro or BuiltinFunction or BoundMethod,
        ["odd"] = (v, _) => Python.Arithmetic("%", v, 2L) is long r && r == 1,
        ["even"] = (v, _) => Python.Arithmetic("%", v, 2L) is long r && r == 0,
        ["divisibleby"] = (v, a) => Python.Equal(Python.Arithmetic("%", v, a.Get(0, "num")), 0L),
        ["eq"] = Equal, ["equalto"] = Equal, ["=="] = Equal,
        ["ne"] = (v, a) => !Python.Equal(v, a.Get(0, "other")), ["!="] = (v, a) => !Python.Equal(v, a.Get(0, "other")),
        ["lt"] = (v, a) => Python.Compare(v, a.Get(0, "other"), "<") < 0, ["<"] = (v, a) => Python.Compare(v, a.Get(0, "other"), "<") < 0,
        ["le"] = (v, a) => Python.Compare(v, a.Get(0, "other"), "<=") <= 0, ["<="] = (v, a) => Python.Compare(v, a.Get(0, "other"), "<=") <= 0,
        ["gt"] = (v, a) => Python.Compare(v, a.Get(0, "other"), ">") > 0, [">"] = (v, a) => Python.Compare(v, a.Get(0, "other"), ">") > 0,
        ["ge"] = (v, a) => Python.Compare(v, a.Get(0, "other"), ">=") >= 0, [">="] = (v, a) => Python.Compare(v, a.Get(0, "other"), ">=") >= 0,
        ["in"] = (v, a) => Python.Contains(a.Get(0, "seq"), v),
        ["sameas"] = (v, a) => a.Get(0, "other") is var o && (v is null || v is bool || o is null || o is bool ? Python.Equal(v, o) && v?.GetType() == o?.GetType() : ReferenceEquals(v, o)),
        ["lower"] = (v, _) => v is string s && s == s.ToLowerInvariant(),
        ["upper"] = (v, _) => v is string s && s == s.ToUpperInvariant(),
    };

    private static bool Equal(object? v, CallArgs a) => Python.Equal(v, a.Get(0, "other"));

    public static bool Exists(string name) => All.ContainsKey(name);

    public static bool Apply(string name, object? value, CallArgs args) => All[name](value, args);
}
