using System.Globalization;

namespace Jamba.Cli;

/// <summary>A usage error: bad or missing option. Printed as one line; exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Minimal GNU-style option parsing: <c>--name value</c>, <c>--name=value</c> and boolean <c>--flag</c>.
/// Each command declares its options up front, so an unknown or misspelt option is an error, not ignored.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, List<string>> values = new();
    private readonly HashSet<string> flags = new();

    /// <summary>Positional arguments (after the command name).</summary>
    public List<string> Positional { get; } = new();

    /// <summary>Parses <paramref name="args"/>; <paramref name="valueOptions"/> take a value, <paramref name="flagOptions"/> do not.</summary>
    public CliArgs(IEnumerable<string> args, IEnumerable<string> valueOptions, IEnumerable<string> flagOptions)
    {
        var takesValue = new HashSet<string>(valueOptions);
        var isFlag = new HashSet<string>(flagOptions) { "help" };
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            if (a == "-h") { flags.Add("help"); continue; }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2) { Positional.Add(a); continue; }
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (isFlag.Contains(name))
            {
                if (inline is not null) throw new UsageException($"option --{name} takes no value");
                flags.Add(name);
            }
            else if (takesValue.Contains(name))
            {
                string value = inline ?? (e.MoveNext() ? e.Current : throw new UsageException($"option --{name} needs a value"));
                if (!values.TryGetValue(name, out var list)) values[name] = list = new List<string>();
                list.Add(value);
            }
            else throw new UsageException($"unknown option --{name} (see --help)");
        }
    }

    /// <summary>The options as given (last value of each), minus <paramref name="except"/>: to pass them on to a child process.</summary>
    public IEnumerable<string> Forwarded(params string[] except)
    {
        foreach (var (name, list) in values)
            if (!except.Contains(name)) { yield return "--" + name; yield return list[^1]; }
        foreach (var flag in flags)
            if (flag != "help" && !except.Contains(flag)) yield return "--" + flag;
    }

    /// <summary>Whether the flag was given.</summary>
    public bool Flag(string name) => flags.Contains(name);
    /// <summary>Whether the option was given.</summary>
    public bool Has(string name) => values.ContainsKey(name);
    /// <summary>The last value of an option, or null.</summary>
    public string? Get(string name) => values.TryGetValue(name, out var v) ? v[^1] : null;
    /// <summary>Every value of a repeatable option.</summary>
    public IReadOnlyList<string> All(string name) => values.TryGetValue(name, out var v) ? v : Array.Empty<string>();
    /// <summary>The value of a required option.</summary>
    public string Required(string name) => Get(name) ?? throw new UsageException($"missing required option --{name}");

    /// <summary>An integer option within [min, max].</summary>
    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? s = Get(name);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new UsageException($"--{name} must be an integer in [{min}, {max}], got '{s}'");
        return v;
    }

    /// <summary>A long option.</summary>
    public long? Long(string name)
    {
        string? s = Get(name);
        if (s is null) return null;
        return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw new UsageException($"--{name} must be an integer, got '{s}'");
    }

    /// <summary>A float option.</summary>
    public float Float(string name, float fallback)
    {
        string? s = Get(name);
        if (s is null) return fallback;
        return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v) ? v : throw new UsageException($"--{name} must be a number, got '{s}'");
    }

    /// <summary>A true/false option.</summary>
    public bool Bool(string name, bool fallback) => Get(name)?.ToLowerInvariant() switch
    {
        null => fallback,
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        var s => throw new UsageException($"--{name} must be true or false, got '{s}'"),
    };

    /// <summary>
    /// Parses a matrix written as rows separated by ';' and integers by ',' (e.g. <c>5,9,11;7,3,2</c>).
    /// Rows must have equal length unless <paramref name="ragged"/>.
    /// </summary>
    public static long[][] Matrix(string option, string text, bool ragged = false)
    {
        var rows = text.Split(';').Select((row, r) =>
        {
            var cells = row.Split(',', StringSplitOptions.TrimEntries);
            if (cells.Length == 1 && cells[0].Length == 0) throw new UsageException($"--{option}: row {r} is empty");
            return cells.Select((c, i) => long.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
                ? v : throw new UsageException($"--{option}: row {r}, item {i} is not an integer: '{c}'")).ToArray();
        }).ToArray();
        if (!ragged && rows.Any(r => r.Length != rows[0].Length))
            throw new UsageException($"--{option}: rows have different lengths ({string.Join(", ", rows.Select(r => r.Length))}); pad them and pass --attention-mask");
        return rows;
    }
}
