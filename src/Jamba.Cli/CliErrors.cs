using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.InteropServices;
using Jamba.Checkpoints;

namespace Jamba.Cli;

/// <summary>
/// The tool's error contract: every failure is one line on stderr, <c>jamba [command]: error: …</c>; exit code 2 for
/// a usage error (System.CommandLine's parse errors included, reworded here), 1 for anything else.
/// </summary>
internal static class CliErrors
{
    /// <summary>The words that name the command in an error line: "jamba", "jamba bench context".</summary>
    public static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (SymbolResult? r = parse.CommandResult; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Add(c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>The one usage error to report for a command line that did not parse.</summary>
    public static string Usage(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        string path = CommandPath(parse);
        if (parse.UnmatchedTokens.Count > 0)
        {
            string token = parse.UnmatchedTokens[0];
            var subcommands = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
            if (token.StartsWith('-') && token.Length > 1) return $"unknown option {token} (see --help)";
            if (parse.CommandResult == parse.RootCommandResult) return $"unknown command '{token}' (commands: {string.Join(", ", subcommands)})";
            if (subcommands.Count > 0) return $"unexpected argument '{token}' (only {string.Join(" or ", subcommands.Select(s => $"'{s}'"))} may follow {command.Name})";
            return $"unexpected argument '{token}' (see {path} --help)";
        }
        foreach (var error in parse.Errors)
            if (error.SymbolResult is OptionResult option)
                return option.Implicit ? $"missing required option {option.Option.Name}"
                    : option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0 ? $"option {option.Option.Name} needs a value"
                    : error.Message;
        return parse.Errors.Count > 0 ? parse.Errors[0].Message : "invalid command line";
    }

    /// <summary>One line for an exception from a command.</summary>
    public static string Describe(Exception e) => e switch
    {
        JambaConfigException or CheckpointException or FileNotFoundException or DirectoryNotFoundException
            or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException
            or OperationCanceledException or IOException or UnauthorizedAccessException => OneLine(e.Message),
        // libtorch errors arrive as ExternalException with a C++ backtrace appended: keep the first line.
        ExternalException => "torch: " + OneLine(e.Message),
        _ => $"{e.GetType().Name}: {OneLine(e.Message)}",
    };

    private static string OneLine(string s)
    {
        int nl = s.IndexOfAny(new[] { '\r', '\n' });
        return nl < 0 ? s : s[..nl];
    }
}
