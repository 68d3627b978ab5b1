using System.CommandLine;

namespace Jamba.Cli;

/// <summary>Questions the commands ask of a parse beyond an option's value.</summary>
internal static class CliParseResultExtensions
{
    /// <summary>Whether <paramref name="option"/> was written on the command line (not filled in by its default).</summary>
    public static bool Given(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>
    /// The value of <paramref name="option"/>, or null when it was not written: System.CommandLine gives an array
    /// option left out an empty array.
    /// </summary>
    public static T? GivenValue<T>(this ParseResult parse, Option<T> option) where T : class? =>
        parse.Given(option) ? parse.GetValue(option) : null;

    /// <summary>
    /// The options written on the command line (last value of each), minus <paramref name="except"/>: to pass them on
    /// to a child process.
    /// </summary>
    public static IEnumerable<string> Forwarded(this ParseResult parse, params Option[] except)
    {
        foreach (var option in parse.CommandResult.Command.Options)
        {
            if (except.Contains(option) || parse.GetResult(option) is not { Implicit: false } given) continue;
            yield return option.Name;
            if (given.Tokens.Count > 0) yield return given.Tokens[^1].Value;
        }
    }
}
