using System.Globalization;
using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// Python's value semantics where a template can observe them: truthiness, <c>str()</c> and <c>repr()</c>
/// (lists print as <c>['a', 1, None]</c>, floats as <c>1.0</c> / <c>1e-05</c>), equality across int/float/bool,
/// ordering, arithmetic and membership. Values are <see langword="null"/> (None), <see cref="bool"/>,
/// <see cref="long"/>, <see cref="double"/>, <see cref="string"/>, <see cref="List{T}"/> of objects (list),
/// <see cref="PyTuple"/>, <see cref="PyDict"/>, <see cref="Undefined"/> and the interpreter's callables.
/// </summary>
internal static class Python
{
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        PyTuple t => t.Items.Count > 0,
        PyDict d => d.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        Macro => "Macro",
        _ => "function",
    };

    /// <summary>jinja2's <c>object_type_repr</c>, used in undefined messages: <c>None</c> or <c>dict object</c>.</summary>
    public static string ObjectTypeRepr(object? v) => v is null ? "None" : $"{TypeName(v)} object";

    public static string Str(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        Namespace ns => $"<Namespace {Repr(ns.Attributes)}>",
        Macro m => $"<Macro '{m.Name}'>",
        List<object?> or PyTuple or PyDict => Repr(v),
        BoundMethod m => $"<built-in method {m.Name} of {TypeName(m.Target)} object>",
        BuiltinFunction f => $"<function {f.Name}>",
        _ => $"<{TypeName(v)} object>",
    };

    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case string s:
                AppendStringRepr(sb, s);
                break;
            case List<object?> list:
                AppendItems(sb, "[", list, "]");
                break;
            case PyTuple t:
                AppendItems(sb, "(", t.Items, t.Items.Count == 1 ? ",)" : ")");
                break;
            case PyDict d:
                sb.Append('{');
                bool first = true;
                foreach (var (key, value) in d)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, key);
                    sb.Append(": ");
                    AppendRepr(sb, value);
                }
                sb.Append('}');
                break;
            default:
                sb.Append(Str(v));
                break;
        }
    }

    private static void AppendItems(StringBuilder sb, string open, IReadOnlyList<object?> items, string close)
    {
        sb.Append(open);
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            AppendRepr(sb, items[i]);
        }
        sb.Append(close);
    }

    /// <summary>Python's <c>repr(str)</c>: single quotes unless the text has a single quote and no double quote.</summary>
    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(rune)) sb.Append(rune.ToString());
            else if (c < 0x100) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c < 0x10000) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
        }
        sb.Append(quote);
    }

    /// <summary>Python's <c>str.isprintable</c> for one character: not a control, format, surrogate, unassigned or separator other than space.</summary>
    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ') return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator => false,
            _ => true,
        };
    }

    /// <summary>
    /// Python's <c>repr(float)</c>: the shortest digits that round-trip, positional when the decimal exponent is in
    /// [-4, 16), otherwise scientific with a two-digit exponent (<c>1e-05</c>, <c>1e+16</c>); always a dot or an exponent.
    /// </summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative) r = r[1..];
        int exponent = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(r.AsSpan(e + 1), CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string intPart = dot >= 0 ? r[..dot] : r, fracPart = dot >= 0 ? r[(dot + 1)..] : "";
        string digits = (intPart + fracPart).TrimStart('0');
        int point = intPart.Length + exponent - ((intPart + fracPart).Length - (intPart + fracPart).TrimStart('0').Length);
        digits = digits.TrimEnd('0');
        string sign = negative ? "-" : "";
        if (digits.Length == 0) return sign + "0.0";
        if (point > -4 && point <= 16)
        {
            if (point <= 0) return sign + "0." + new string('0', -point) + digits;
            if (point >= digits.Length) return sign + digits + new string('0', point - digits.Length) + ".0";
            return sign + digits[..point] + "." + digits[point..];
        }
        int exp = point - 1;
        string mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
        return $"{sign}{mantissa}e{(exp < 0 ? '-' : '+')}{Math.Abs(exp):00}";
    }

    private static bool IsNumber(object? v) => v is long or double or bool;

    private static double ToDouble(object? v) => v switch { long l => l, double d => d, bool b => b ? 1 : 0, _ => double.NaN };

    private static long ToLong(object? v) => v switch { long l => l, bool b => b ? 1 : 0, _ => 0 };

    public static bool Equal(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        return (a, b) switch
        {
            (null, null) => true,
            (string x, string y) => x == y,
            (List<object?> x, List<object?> y) => SequenceEqual(x, y),
            (PyTuple x, PyTuple y) => SequenceEqual(x.Items, y.Items),
            (PyDict x, PyDict y) => x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var v) && Equal(kv.Value, v)),
            _ => ReferenceEquals(a, b),
        };
    }

    private static bool SequenceEqual(IReadOnlyList<object?> x, IReadOnlyList<object?> y)
    {
        if (x.Count != y.Count) return false;
        for (int i = 0; i < x.Count; i++)
            if (!Equal(x[i], y[i])) return false;
        return true;
    }

    /// <summary>Python ordering of numbers, strings and sequences; other pairs are a TypeError, as in Python.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined u) throw u.Error();
        if (b is Undefined ub) throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        if (a is string x && b is string y) return Math.Sign(string.CompareOrdinal(x, y));
        if (AsSequence(a) is { } xs && AsSequence(b) is { } ys && a!.GetType() == b!.GetType())
        {
            for (int i = 0; i < Math.Min(xs.Count, ys.Count); i++)
                if (!Equal(xs[i], ys[i])) return Compare(xs[i], ys[i], op);
            return xs.Count.CompareTo(ys.Count);
        }
        throw new TemplateRuntimeException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static IReadOnlyList<object?>? AsSequence(object? v) => v switch
    {
        List<object?> l => l,
        PyTuple t => t.Items,
        _ => null,
    };

    private static TemplateRuntimeException Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    public static object? Arithmetic(string op, object? a, object? b)
    {
        if (a is Undefined ua) throw ua.Error();
        if (b is Undefined ub) throw ub.Error();
        if (IsNumber(a) && IsNumber(b))
        {
            bool floats = a is double || b is double;
            double x = ToDouble(a), y = ToDouble(b);
            long i = ToLong(a), j = ToLong(b);
            switch (op)
            {
                case "+": return floats ? x + y : (object)(i + j);
                case "-": return floats ? x - y : (object)(i - j);
                case "*": return floats ? x * y : (object)(i * j);
                case "/":
                    if (y == 0) throw new TemplateRuntimeException("division by zero");
                    return x / y;
                case "//":
                    if (y == 0) throw new TemplateRuntimeException("integer division or modulo by zero");
                    return floats ? Math.Floor(x / y) : (object)FloorDiv(i, j);
                case "%":
                    if (y == 0) throw new TemplateRuntimeException("integer division or modulo by zero");
                    return floats ? x - y * Math.Floor(x / y) : (object)(i - j * FloorDiv(i, j));
                case "**":
                    if (!floats && j >= 0) return (long)Math.Pow(i, j);
                    return Math.Pow(x, y);
            }
        }
        switch (op, a, b)
        {
            case ("+", string x, string y): return x + y;
            case ("+", List<object?> x, List<object?> y): return new List<object?>(x.Concat(y));
            case ("+", PyTuple x, PyTuple y): return new PyTuple([.. x.Items, .. y.Items]);
            case ("+", string, _): throw new TemplateRuntimeException($"can only concatenate str (not \"{TypeName(b)}\") to str");
            case ("+", List<object?>, _): throw new TemplateRuntimeException($"can only concatenate list (not \"{TypeName(b)}\") to list");
            case ("*", string s, long or bool): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, ToLong(b))));
            case ("*", long or bool, string s): return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, ToLong(a))));
            case ("*", List<object?> l, long or bool): return Enumerable.Repeat(l, (int)Math.Max(0, ToLong(b))).SelectMany(x => x).ToList();
        }
        throw Unsupported(op, a, b);
    }

    private static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    public static object? Negate(object? v, bool minus) => v switch
    {
        Undefined u => throw u.Error(),
        long l => (object)(minus ? -l : l),
        bool b => (object)(minus ? -(b ? 1L : 0L) : (b ? 1L : 0L)),
        double d => (object)(minus ? -d : d),
        _ => throw new TemplateRuntimeException($"bad operand type for unary {(minus ? "-" : "+")}: '{TypeName(v)}'"),
    };

    public static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string sub => s.Contains(sub, StringComparison.Ordinal),
        string => throw new TemplateRuntimeException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        PyDict d => item is not null && d.ContainsKey(item),
        Undefined => false,
        _ when AsSequence(container) is { } seq => seq.Any(x => Equal(x, item)),
        _ => throw new TemplateRuntimeException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>Python iteration: a dict gives its keys, a string its characters; undefined gives nothing.</summary>
    public static IEnumerable<object?> Iterate(object? v) => v switch
    {
        Undefined => [],
        List<object?> l => l,
        PyTuple t => t.Items,
        PyDict d => d.Keys,
        string s => s.EnumerateRunes().Select(r => (object?)r.ToString()),
        _ => throw new TemplateRuntimeException($"'{TypeName(v)}' object is not iterable"),
    };

    /// <summary>Python's <c>len()</c>; strings count code points, as Python does.</summary>
    public static long Length(object? v) => v switch
    {
        Undefined => 0,
        string s => s.EnumerateRunes().Count(),
        List<object?> l => l.Count,
        PyTuple t => t.Items.Count,
        PyDict d => d.Count,
        _ => throw new TemplateRuntimeException($"object of type '{TypeName(v)}' has no len()"),
    };

    /// <summary><c>obj[key]</c> for an integer key on a list, tuple or string; <see langword="null"/> result means "no such item".</summary>
    public static bool TryIndex(object? target, long index, out object? value)
    {
        value = null;
        if (target is string s)
        {
            var runes = s.EnumerateRunes().ToArray();
            if (index < 0) index += runes.Length;
            if (index < 0 || index >= runes.Length) return false;
            value = runes[index].ToString();
            return true;
        }
        if (AsSequence(target) is not { } seq) return false;
        if (index < 0) index += seq.Count;
        if (index < 0 || index >= seq.Count) return false;
        value = seq[(int)index];
        return true;
    }

    /// <summary>Python slicing (<c>[start:stop:step]</c>, negative indices and steps) of a list, tuple or string.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        if (target is Undefined u) throw u.Error();
        long stepValue = step is null ? 1 : AsIndex(step);
        if (stepValue == 0) throw new TemplateRuntimeException("slice step cannot be zero");
        IReadOnlyList<object?> items = target switch
        {
            string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
            _ => AsSequence(target) ?? throw new TemplateRuntimeException($"'{TypeName(target)}' object is not subscriptable"),
        };
        long n = items.Count;
        long lower = stepValue > 0 ? 0 : -1, upper = stepValue > 0 ? n : n - 1;
        long Clamp(object? bound, long fallback)
        {
            if (bound is null) return fallback;
            long i = AsIndex(bound);
            if (i < 0) i = Math.Max(i + n, lower);
            else i = Math.Min(i, upper);
            return i;
        }
        long from = Clamp(start, stepValue > 0 ? lower : upper), to = Clamp(stop, stepValue > 0 ? upper : lower);
        var result = new List<object?>();
        for (long i = from; stepValue > 0 ? i < to : i > to; i += stepValue) result.Add(items[(int)i]);
        return target switch
        {
            string => string.Concat(result),
            PyTuple => new PyTuple(result),
            _ => result,
        };
    }

    private static long AsIndex(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeException($"slice indices must be integers or None, not {TypeName(v)}"),
    };
}
