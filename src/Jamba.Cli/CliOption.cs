using System.CommandLine;
using System.Globalization;

namespace Jamba.Cli;

/// <summary>
/// Options of the <c>jamba</c> commands, built on System.CommandLine with the tool's own value checks: each parser
/// reports a bad value as one usage error naming the option and the value, and a repeated option keeps its last
/// value (so a script can append an override to a command line).
/// </summary>
internal static class CliOption
{
    /// <summary>An option parsed by <paramref name="parse"/>, which throws <see cref="UsageException"/> for a bad value.</summary>
    public static Option<T> Create<T>(string name, string helpName, string description, Func<string, T> parse)
    {
        return new Option<T>(name)
        {
            HelpName = helpName,
            Description = description,
            // A repeated option collects every value and keeps the last; each occurrence still takes exactly one.
            AllowMultipleArgumentsPerToken = true,
            CustomParser = result =>
            {
                try { return parse(result.Tokens[^1].Value); }
                catch (UsageException e)
                {
                    result.AddError(e.Message);
                    return default;
                }
            },
        };
    }

    /// <summary><paramref name="option"/> with a default value, shown in help.</summary>
    public static Option<T> WithDefault<T>(this Option<T> option, T value)
    {
        option.DefaultValueFactory = _ => value;
        return option;
    }

    /// <summary><paramref name="option"/> marked required: its absence is the usage error "missing required option".</summary>
    public static Option<T> AsRequired<T>(this Option<T> option)
    {
        option.Required = true;
        return option;
    }

    /// <summary><paramref name="option"/> left out of help: set by the tool itself, not by people.</summary>
    public static Option<T> AsHidden<T>(this Option<T> option)
    {
        option.Hidden = true;
        return option;
    }

    /// <summary>A text option; null when not given.</summary>
    public static Option<string?> Text(string name, string helpName, string description) =>
        Create<string?>(name, helpName, description, s => s);

    /// <summary>A text option with a default.</summary>
    public static Option<string> Text(string name, string helpName, string description, string fallback) =>
        Create(name, helpName, description, s => s).WithDefault(fallback);

    /// <summary>A text option that accepts only <paramref name="choices"/>.</summary>
    public static Option<string> Choice(string name, string helpName, string description, string fallback, params string[] choices) =>
        Create(name, helpName, description, s => choices.Contains(s)
            ? s : throw new UsageException($"{name} must be {string.Join(" or ", choices)}, got '{s}'")).WithDefault(fallback);

    /// <summary>An integer option within [min, max], with a default.</summary>
    public static Option<int> Int(string name, string helpName, string description, int fallback, int min = int.MinValue, int max = int.MaxValue) =>
        Create(name, helpName, description, s => ParseInt(name, s, min, max)).WithDefault(fallback);

    /// <summary>An integer option within [min, max]; null when not given (its default depends on other options).</summary>
    public static Option<int?> OptionalInt(string name, string helpName, string description, int min = int.MinValue, int max = int.MaxValue) =>
        Create<int?>(name, helpName, description, s => ParseInt(name, s, min, max));

    /// <summary>A long integer option; null when not given.</summary>
    public static Option<long?> Long(string name, string helpName, string description) =>
        Create<long?>(name, helpName, description, s => ParseLong(name, s));

    /// <summary>A long integer option with a default.</summary>
    public static Option<long> Long(string name, string helpName, string description, long fallback) =>
        Create(name, helpName, description, s => ParseLong(name, s)).WithDefault(fallback);

    /// <summary>A finite float option with a default.</summary>
    public static Option<float> Float(string name, string helpName, string description, float fallback) =>
        Create(name, helpName, description, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)
            ? v : throw new UsageException($"{name} must be a number, got '{s}'")).WithDefault(fallback);

    /// <summary>A finite double option with a default.</summary>
    public static Option<double> Double(string name, string helpName, string description, double fallback) =>
        Create(name, helpName, description, s => ParseDouble(name, s)).WithDefault(fallback);

    /// <summary>
    /// A true/false option that takes a value (true/false, 1/0, yes/no), read with <see cref="GetBool"/>. Its value type
    /// is text, normalised to "true" or "false": System.CommandLine would not take "yes" or "1" as a bool's value.
    /// </summary>
    public static Option<string> Bool(string name, string helpName, string description, bool fallback) =>
        Create(name, helpName, description, s => s.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => "true",
            "false" or "0" or "no" => "false",
            _ => throw new UsageException($"{name} must be true or false, got '{s}'"),
        }).WithDefault(fallback ? "true" : "false");

    /// <summary>The value of a <see cref="Bool"/> option.</summary>
    public static bool GetBool(this ParseResult parse, Option<string> option) => parse.GetValue(option) == "true";

    /// <summary>A flag: present or not, no value.</summary>
    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    /// <summary>An option that may be given several times, one value each.</summary>
    public static Option<string[]> Repeated(string name, string helpName, string description) =>
        new(name) { HelpName = helpName, Description = description, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };

    /// <summary>
    /// Rows of token ids: rows separated by ';', integers by ',' (e.g. <c>5,9,11;7,3,2</c>). Rows must have equal
    /// length unless <paramref name="ragged"/>. Read an optional one with <see cref="CliParseResultExtensions.GivenValue"/>:
    /// left out, an array option's value is an empty array, not null.
    /// </summary>
    public static Option<long[][]?> IdRows(string name, string helpName, string description, bool ragged = false) =>
        Create<long[][]?>(name, helpName, description, s => ParseIdRows(name, s, ragged));

    /// <summary>The parse behind <see cref="IdRows"/>.</summary>
    public static long[][] ParseIdRows(string name, string text, bool ragged = false)
    {
        var rows = text.Split(';').Select((row, r) =>
        {
            var cells = row.Split(',', StringSplitOptions.TrimEntries);
            if (cells.Length == 1 && cells[0].Length == 0) throw new UsageException($"{name}: row {r} is empty");
            return cells.Select((c, i) => long.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
                ? v : throw new UsageException($"{name}: row {r}, item {i} is not an integer: '{c}'")).ToArray();
        }).ToArray();
        if (!ragged && rows.Any(r => r.Length != rows[0].Length))
            throw new UsageException($"{name}: rows have different lengths ({string.Join(", ", rows.Select(r => r.Length))}); pad them and pass --attention-mask");
        return rows;
    }

    /// <summary>Makes it a usage error to give other than exactly one of <paramref name="options"/>.</summary>
    public static void ExactlyOneOf(Command command, params Option[] options) => OneOf(command, "exactly", n => n == 1, options);

    /// <summary>Makes it a usage error to give more than one of <paramref name="options"/>.</summary>
    public static void AtMostOneOf(Command command, params Option[] options) => OneOf(command, "at most", n => n <= 1, options);

    private static void OneOf(Command command, string how, Func<int, bool> allowed, Option[] options)
    {
        string names = string.Join(", ", options[..^1].Select(o => o.Name)) + " or " + options[^1].Name;
        command.Validators.Add(result =>
        {
            if (!allowed(options.Count(o => result.GetResult(o) is { Implicit: false }))) result.AddError($"give {how} one of {names}");
        });
    }

    private static int ParseInt(string name, string s, int min, int max) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v : throw new UsageException($"{name} must be an integer in [{min}, {max}], got '{s}'");

    private static long ParseLong(string name, string s) =>
        long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) ? v : throw new UsageException($"{name} must be an integer, got '{s}'");

    private static double ParseDouble(string name, string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new UsageException($"{name} must be a number, got '{s}'");
}
