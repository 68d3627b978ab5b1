using System.Globalization;
using System.Text.RegularExpressions;

namespace Jamba.Chat.Templates;

/// <summary>
/// The filters chat templates use, with jinja2's behaviour (and transformers' <c>tojson</c>). A filter is called
/// with the interpreter (for <c>map</c>/<c>select</c>, which apply other filters and tests), the value and the
/// arguments.
/// </summary>
internal static partial class Filters
{
    private delegate object? Filter(Interpreter interpreter, object? value, CallArgs args);

    private static readonly Dictionary<string, Filter> All = new()
    {
        ["length"] = (_, v, _) => Python.Length(v),
        ["count"] = (_, v, _) => Python.Length(v),
        ["string"] = (_, v, _) => Python.Str(v),
        ["tojson"] = (_, v, a) => PythonJson.Dumps(v,
            Python.Truthy(a.Check("tojson", 4, "ensure_ascii", "indent", "separators", "sort_keys").Get(0, "ensure_ascii", false)),
            a.Get(1, "indent"), a.Get(2, "separators"), Python.Truthy(a.Get(3, "sort_keys", false))),
        ["int"] = (_, v, a) => ToInt(v, a.Get(0, "default", 0L), a.Get(1, "base", 10L)),
        ["float"] = (_, v, a) => ToFloat(v, a.Get(0, "default", 0.0)),
        ["upper"] = (_, v, _) => Python.Str(v).ToUpperInvariant(),
        ["lower"] = (_, v, _) => Python.Str(v).ToLowerInvariant(),
        ["capitalize"] = (_, v, _) => Python.Str(v) is { Length: > 0 } s ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : "",
        ["title"] = (_, v, _) => Title(Python.Str(v)),
        ["trim"] = (_, v, a) => a.Get(0, "chars") is string chars ? Python.Str(v).Trim(chars.ToCharArray()) : Python.Str(v).Trim(),
        ["replace"] = (_, v, a) => Methods.Call(new BoundMethod(Python.Str(v), "replace"), a),
        ["list"] = (_, v, _) => Python.Iterate(v).ToList(),
        ["items"] = (_, v, _) => v switch
        {
            Undefined => new List<object?>(),
            PyDict d => d.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList(),
            _ => throw new TemplateRuntimeException("Can only get item pairs from a mapping."),
        },
        ["join"] = (i, v, a) => string.Join(Python.Str(a.Get(0, "d", "")),
            Python.Iterate(v).Select(x => Python.Str(a.Get(1, "attribute") is { } attr ? i.GetAttribute(x, attr) : x))),
        ["default"] = Default,
        ["d"] = Default,
        ["first"] = (_, v, _) => Python.Iterate(v).Take(1).ToList() is [var first] ? first : Undefined.WithHint("No first item, sequence was empty."),
        ["last"] = (_, v, _) => Python.Iterate(v).ToList() is [.., var last] ? last : Undefined.WithHint("No last item, sequence was empty."),
        ["reverse"] = (_, v, _) => v is string s ? string.Concat(s.EnumerateRunes().Reverse()) : Python.Iterate(v).Reverse().ToList(),
        ["abs"] = (_, v, _) => v switch { long l => (object)Math.Abs(l), double d => Math.Abs(d), bool b => b ? 1L : 0L, _ => throw new TemplateRuntimeException($"bad operand type for abs(): '{Python.TypeName(v)}'") },
        ["safe"] = (_, v, _) => v,
        ["map"] = Map,
        ["select"] = (i, v, a) => Select(i, v, a, attribute: false, keep: true),
        ["reject"] = (i, v, a) => Select(i, v, a, attribute: false, keep: false),
        ["selectattr"] = (i, v, a) => Select(i, v, a, attribute: true, keep: true),
        ["rejectattr"] = (i, v, a) => Select(i, v, a, attribute: true, keep: false),
        ["unique"] = (_, v, _) => Python.Iterate(v).Aggregate(new List<object?>(), (seen, x) =>
        {
            if (!seen.Any(y => Python.Equal(x is string xs ? xs.ToLowerInvariant() : x, y is string ys ? ys.ToLowerInvariant() : y))) seen.Add(x);
            return seen;
        }),
    };

    public static bool Exists(string name) => All.ContainsKey(name);

    public static object? Apply(Interpreter interpreter, string name, object? value, CallArgs args) => All[name](interpreter, value, args);

    private static object? Default(Interpreter _, object? v, CallArgs a) =>
        v is Undefined || (Python.Truthy(a.Get(1, "boolean", false)) && !Python.Truthy(v)) ? a.Get(0, "default_value", "") : v;

    private static object? ToInt(object? v, object? fallback, object? numberBase)
    {
        switch (v)
        {
            case Undefined u: throw u.Error();
            case long or bool: return v is bool b ? (b ? 1L : 0L) : v;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = s.Trim().Replace("_", "");
                int radix = numberBase is long r ? (int)r : 10;
                if (radix == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                if (radix == 16 && long.TryParse(t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? t[2..] : t, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long h)) return h;
                if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f)) return (long)Math.Truncate(f);
                return fallback;
        }
        return fallback;
    }

    private static object? ToFloat(object? v, object? fallback) => v switch
    {
        Undefined u => throw u.Error(),
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double => v,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => fallback,
    };

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    /// <summary>jinja2's <c>title</c>: upper-cases the first letter after a run of spaces, dashes or opening brackets.</summary>
    private static string Title(string s) => string.Concat(WordBeginning().Split(s)
        .Where(part => part.Length > 0)
        .Select(part => char.ToUpperInvariant(part[0]) + part[1..].ToLowerInvariant()));

    private static object? Map(Interpreter interpreter, object? value, CallArgs args)
    {
        var items = Python.Iterate(value);
        if (args.Get(-1, "attribute") is { } attribute)
        {
            object? fallback = args.Get(-1, "default", null);
            bool hasDefault = args.Has(-1, "default");
            return items.Select(x => interpreter.GetAttribute(x, attribute) is var r && r is Undefined && hasDefault ? fallback : r).ToList();
        }
        if (args.Positional.Count == 0) throw new TemplateRuntimeException("map: a filter name or attribute= is required");
        string filter = args.Positional[0] as string ?? throw new TemplateRuntimeException("map: the filter name must be a string");
        if (!Exists(filter)) throw new TemplateRuntimeException($"No filter named '{filter}'");
        var rest = new CallArgs(args.Positional.Skip(1).ToList(), args.Keywords);
        return items.Select(x => Apply(interpreter, filter, x, rest)).ToList();
    }

    private static object? Select(Interpreter interpreter, object? value, CallArgs args, bool attribute, bool keep)
    {
        int next = 0;
        object? attr = attribute ? args.Positional.ElementAtOrDefault(next++) : null;
        string? test = args.Positional.Count > next ? args.Positional[next++] as string : null;
        if (test is not null && !TestFunctions.Exists(test)) throw new TemplateRuntimeException($"No test named '{test}'");
        var testArgs = new CallArgs(args.Positional.Skip(next).ToList(), []);
        return Python.Iterate(value).Where(x =>
        {
            object? subject = attr is null ? x : interpreter.GetAttribute(x, attr);
            bool passed = test is null ? Python.Truthy(subject) : TestFunctions.Apply(test, subject, testArgs);
            return passed == keep;
        }).ToList();
    }
}
