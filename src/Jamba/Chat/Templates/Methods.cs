using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// The Python methods templates call on strings (<c>strip</c>, <c>split</c>, <c>startswith</c>, ...), dicts
/// (<c>items</c>, <c>keys</c>, <c>values</c>, <c>get</c>) and lists (<c>index</c>, <c>count</c>). Methods that
/// modify a list or dict are refused, as in transformers' immutable sandbox.
/// </summary>
internal static class Methods
{
    private static readonly HashSet<string> StringMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "replace", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum",
        "isspace", "islower", "isupper",
    ];
    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];
    private static readonly HashSet<string> ListMethods = ["index", "count"];
    private static readonly HashSet<string> MutatingListMethods = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"];
    private static readonly HashSet<string> MutatingDictMethods = ["pop", "popitem", "setdefault", "update", "clear"];

    /// <summary>The method <paramref name="name"/> of <paramref name="target"/>, if it has one.</summary>
    public static bool TryBind(object? target, string name, out object? method)
    {
        bool known = target switch
        {
            string => StringMethods.Contains(name),
            PyDict => DictMethods.Contains(name) || MutatingDictMethods.Contains(name),
            List<object?> => ListMethods.Contains(name) || MutatingListMethods.Contains(name),
            PyTuple => ListMethods.Contains(name),
            _ => false,
        };
        method = known ? new BoundMethod(target!, name) : null;
        return known;
    }

    public static object? Call(BoundMethod method, CallArgs args)
    {
        string name = method.Name;
        switch (method.Target)
        {
            case string s: return CallString(s, name, args);
            case PyDict d when DictMethods.Contains(name): return CallDict(d, name, args);
            case List<object?> or PyTuple when ListMethods.Contains(name):
                var items = Python.AsSequence(method.Target)!;
                object? item = args.Get(0, "value");
                if (name == "count") return (long)items.Count(x => Python.Equal(x, item));
                for (int i = 0; i < items.Count; i++)
                    if (Python.Equal(items[i], item)) return (long)i;
                throw new TemplateRuntimeException($"{Python.Repr(item)} is not in list");
        }
        throw new TemplateRuntimeException(
            $"access to attribute '{name}' of '{Python.TypeName(method.Target)}' object is unsafe: templates cannot modify their inputs");
    }

    private static object? CallDict(PyDict d, string name, CallArgs args) => name switch
    {
        "items" => d.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList(),
        "keys" => d.Keys.Cast<object?>().ToList(),
        "values" => d.Values.ToList(),
        _ => args.Get(0, "key") is { } key && d.TryGetValue(key, out var value) ? value : args.Get(1, "default"),
    };

    private static string? OptionalString(CallArgs args, int index, string name, string method) => args.Get(index, name) switch
    {
        null => null,
        string s => s,
        var other => throw new TemplateRuntimeException($"{method} arg must be None or str, not {Python.TypeName(other)}"),
    };

    private static object? CallString(string s, string name, CallArgs args)
    {
        switch (name)
        {
            case "strip": return OptionalString(args, 0, "chars", name) is { } c1 ? s.Trim(c1.ToCharArray()) : s.Trim();
            case "lstrip": return OptionalString(args, 0, "chars", name) is { } c2 ? s.TrimStart(c2.ToCharArray()) : s.TrimStart();
            case "rstrip": return OptionalString(args, 0, "chars", name) is { } c3 ? s.TrimEnd(c3.ToCharArray()) : s.TrimEnd();
            case "upper": return s.ToUpperInvariant();
            case "lower": return s.ToLowerInvariant();
            case "title": return Title(s);
            case "capitalize": return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "split":
            case "rsplit":
                return Split(s, OptionalString(args, 0, "sep", name), args.Get(1, "maxsplit") is long max ? max : -1, name == "rsplit");
            case "splitlines":
                var lines = s.Split('\n').Select(l => (object?)l.TrimEnd('\r')).ToList();
                if (s.Length == 0 || s.EndsWith('\n')) lines.RemoveAt(lines.Count - 1);
                return lines;
            case "startswith":
            case "endswith":
                var affixes = args.Get(0, "prefix") switch
                {
                    string one => [one],
                    PyTuple t => t.Items.Select(x => x as string ?? throw new TemplateRuntimeException($"{name} first arg must be str or a tuple of str")).ToArray(),
                    var other => throw new TemplateRuntimeException($"{name} first arg must be str or a tuple of str, not {Python.TypeName(other)}"),
                };
                return affixes.Any(a => name == "startswith" ? s.StartsWith(a, StringComparison.Ordinal) : s.EndsWith(a, StringComparison.Ordinal));
            case "replace":
                string old = args.Get(0, "old") as string ?? throw new TemplateRuntimeException("replace() argument 1 must be str");
                string @new = args.Get(1, "new") as string ?? throw new TemplateRuntimeException("replace() argument 2 must be str");
                return Replace(s, old, @new, args.Get(2, "count") is long count ? count : -1);
            case "find": return (long)s.IndexOf(ArgString(args, name), StringComparison.Ordinal);
            case "rfind": return (long)s.LastIndexOf(ArgString(args, name), StringComparison.Ordinal);
            case "count":
                string sub = ArgString(args, name);
                return sub.Length == 0 ? Python.Length(s) + 1 : (long)((s.Length - s.Replace(sub, "", StringComparison.Ordinal).Length) / sub.Length);
            case "join": return string.Join(s, Python.Iterate(args.Get(0, "iterable")).Select(x =>
                x as string ?? throw new TemplateRuntimeException($"sequence item: expected str instance, {Python.TypeName(x)} found")));
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "isspace": return s.Length > 0 && s.All(char.IsWhiteSpace);
            case "islower": return s.Any(char.IsLetter) && !s.Any(char.IsUpper);
            case "isupper": return s.Any(char.IsLetter) && !s.Any(char.IsLower);
        }
        throw new TemplateRuntimeException($"'str' object has no attribute '{name}'");
    }

    private static string ArgString(CallArgs args, string method) =>
        args.Get(0, "sub") as string ?? throw new TemplateRuntimeException($"{method}() argument must be str");

    /// <summary>Python's <c>str.title</c>: a cased letter after an uncased character starts a word.</summary>
    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            bool cased = char.IsUpper(c) || char.IsLower(c);
            sb.Append(!cased ? c : previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = cased;
        }
        return sb.ToString();
    }

    private static string Replace(string s, string old, string @new, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(@new, ["", .. s.Select(c => c.ToString()), ""]) : s.Replace(old, @new, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, pos, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0) break;
            sb.Append(s, pos, at - pos).Append(@new);
            pos = at + old.Length;
        }
        return sb.Append(s, pos, s.Length - pos).ToString();
    }

    /// <summary>
    /// Python's <c>str.split</c> / <c>rsplit</c>: without a separator, splits on whitespace runs and drops empty
    /// parts; at most <paramref name="maxSplit"/> splits when it is not negative. <c>rsplit</c> is <c>split</c> of
    /// the reversed text.
    /// </summary>
    private static List<object?> Split(string s, string? sep, long maxSplit, bool fromRight)
    {
        if (sep is { Length: 0 }) throw new TemplateRuntimeException("empty separator");
        if (fromRight)
        {
            static string Reverse(string x) => string.Concat(x.Reverse());
            var parts = Split(Reverse(s), sep is null ? null : Reverse(sep), maxSplit, false);
            return parts.Select(p => (object?)Reverse((string)p!)).Reverse().ToList();
        }
        var result = new List<object?>();
        int pos = 0;
        while (true)
        {
            if (sep is null)
            {
                while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
                if (pos == s.Length) break;
            }
            int end = maxSplit >= 0 && result.Count == maxSplit ? -1
                : sep is null ? IndexOfWhiteSpace(s, pos)
                : s.IndexOf(sep, pos, StringComparison.Ordinal);
            if (end < 0)
            {
                result.Add(s[pos..]);
                break;
            }
            result.Add(s[pos..end]);
            pos = end + (sep?.Length ?? 0);
        }
        return result;
    }

    private static int IndexOfWhiteSpace(string s, int from)
    {
        for (int i = from; i < s.Length; i++)
            if (char.IsWhiteSpace(s[i])) return i;
        return -1;
    }
}
