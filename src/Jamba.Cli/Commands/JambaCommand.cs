using System.CommandLine;

namespace Jamba.Cli.Commands;

/// <summary>
/// A `jamba` command: its summary is the line in the command list and the description in its help; its notes follow
/// the generated option list in --help. Subclasses declare their options as fields and add them in the constructor.
/// </summary>
internal abstract class JambaCommand : Command
{
    protected JambaCommand(string name, string summary, string? notes = null) : base(name, summary)
    {
        Notes = notes;
        SetAction(Run);
    }

    /// <summary>Paragraphs printed after the options in --help; null for none.</summary>
    public string? Notes { get; }

    /// <summary>Runs the command; returns the exit code. Throws <see cref="UsageException"/> for a usage error.</summary>
    protected abstract int Run(ParseResult parse);
}
