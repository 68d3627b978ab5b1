namespace Jamba.Cli.Commands;

/// <summary>One `jamba` sub-command.</summary>
public interface ICommand
{
    /// <summary>The word after `jamba`.</summary>
    string Name { get; }
    /// <summary>One line for the command list.</summary>
    string Summary { get; }
    /// <summary>The full --help text.</summary>
    string Help { get; }
    /// <summary>Options that take a value.</summary>
    IEnumerable<string> ValueOptions { get; }
    /// <summary>Options that are plain flags.</summary>
    IEnumerable<string> FlagOptions { get; }
    /// <summary>Whether the command reads positional arguments itself (otherwise any is a usage error).</summary>
    bool TakesPositional => false;
    /// <summary>Runs the command; returns the exit code.</summary>
    int Run(CliArgs args);
}
