using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Jamba.Cli.Commands;

namespace Jamba.Cli;

/// <summary>
/// System.CommandLine's help (description, usage, options and subcommands, all generated from the symbols), followed
/// by the command's <see cref="JambaCommand.Notes"/>: what it writes and how its options work together.
/// </summary>
internal sealed class NotesHelpAction(HelpAction inner) : SynchronousCommandLineAction
{
    /// <inheritdoc />
    public override bool ClearsParseErrors => true;

    /// <inheritdoc />
    public override int Invoke(ParseResult parseResult)
    {
        int code = inner.Invoke(parseResult);
        if (parseResult.CommandResult.Command is JambaCommand { Notes: { } notes })
            parseResult.InvocationConfiguration.Output.WriteLine(notes + Environment.NewLine);
        return code;
    }
}
