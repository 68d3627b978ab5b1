using System.Globalization;
using System.Text;

namespace Jamba.Chat.Templates;

/// <summary>
/// Python's <c>json.dumps</c> as transformers' <c>tojson</c> filter calls it: <c>ensure_ascii=False</c> by default,
/// optional <c>indent</c> (then items are separated by <c>,</c> and a newline), <c>separators</c>, <c>sort_keys</c>;
/// floats print as Python's <c>repr</c>.
/// </summary>
internal static class PythonJson
{
    public static string Dumps(object? value, bool ensureAscii = false, object? indent = null, object? separators = null, bool sortKeys = false)
    {
        string? indentText = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            string s => s,
            _ => throw new TemplateRuntimeException($"tojson: indent must be an int or a string, not {Python.TypeName(indent)}"),
        };
        string itemSep = indentText is null ? ", " : ",", keySep = ": ";
        if (separators is not null)
        {
            var pair = Python.AsSequence(separators);
            if (pair is not { Count: 2 } || pair[0] is not string a || pair[1] is not string b)
                throw new TemplateRuntimeException("tojson: separators must be a pair of strings");
            (itemSep, keySep) = (a, b);
        }
        var sb = new StringBuilder();
        new Writer(sb, ensureAscii, indentText, itemSep, keySep, sortKeys).Write(value, 0);
        return sb.ToString();
    }

    private sealed record Writer(StringBuilder Sb, bool EnsureAscii, string? Indent, string ItemSep, string KeySep, bool SortKeys)
    {
        public void Write(object? v, int level)
        {
            switch (v)
            {
                case null: Sb.Append("null"); break;
                case bool b: Sb.Append(b ? "true" : "false"); break;
                case long l: Sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
                case double d: Sb.Append(FloatJson(d)); break;
                case string s: WriteString(s); break;
                case List<object?> or PyTuple:
                    var items = Python.AsSequence(v)!;
                    WriteContainer('[', ']', items.Count, level, i => Write(items[i], level + 1));
                    break;
                case PyDict dict:
                    var pairs = dict.Select(kv => (Key: KeyString(kv.Key), kv.Value)).ToList();
                    if (SortKeys) pairs.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                    WriteContainer('{', '}', pairs.Count, level, i =>
                    {
                        WriteString(pairs[i].Key);
                        Sb.Append(KeySep);
                        Write(pairs[i].Value, level + 1);
                    });
                    break;
                default:
                    throw new TemplateRuntimeException($"Object of type {Python.TypeName(v)} is not JSON serializable");
            }
        }

        private void WriteContainer(char open, char close, int count, int level, Action<int> writeItem)
        {
            if (count == 0)
            {
                Sb.Append(open).Append(close);
                return;
            }
            Sb.Append(open);
            for (int i = 0; i < count; i++)
            {
                if (i > 0) Sb.Append(ItemSep);
                NewLine(level + 1);
                writeItem(i);
            }
            NewLine(level);
            Sb.Append(close);
        }

        private void NewLine(int level)
        {
            if (Indent is null) return;
            Sb.Append('\n');
            for (int i = 0; i < level; i++) Sb.Append(Indent);
        }

        private static string KeyString(object key) => key switch
        {
            string s => s,
            bool b => b ? "true" : "false",
            long l => l.ToString(CultureInfo.InvariantCulture),
            double d => FloatJson(d),
            _ => throw new TemplateRuntimeException($"keys must be str, int, float, bool or None, not {Python.TypeName(key)}"),
        };

        private static string FloatJson(double d) =>
            double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Python.FloatRepr(d);

        private void WriteString(string s)
        {
            Sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': Sb.Append("\\\""); break;
                    case '\\': Sb.Append("\\\\"); break;
                    case '\n': Sb.Append("\\n"); break;
                    case '\r': Sb.Append("\\r"); break;
                    case '\t': Sb.Append("\\t"); break;
                    case '\b': Sb.Append("\\b"); break;
                    case '\f': Sb.Append("\\f"); break;
                    default:
                        if (c < 0x20 || (EnsureAscii && c > 0x7e))
                            Sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else Sb.Append(c);
                        break;
                }
            }
            Sb.Append('"');
        }
    }
}
