using System.CommandLine;
using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>
/// Where a command that needs only a config takes it from, exactly one of: --model DIR (its config.json),
/// --config FILE or --preset NAME. Nothing is loaded but the config.
/// </summary>
internal sealed class ConfigSourceArgs
{
    public Option<string?> Model { get; } = CliOption.Text("--model", "DIR", "a checkpoint folder (its config.json is read)");
    public Option<string?> Config { get; } = CliOption.Text("--config", "FILE", "a config.json");
    public Option<string?> Preset { get; } = CliOption.Text("--preset", "NAME", $"one of: {string.Join(", ", Presets.Names)}");

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public ConfigSourceArgs(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Config);
        command.Options.Add(Preset);
        CliOption.ExactlyOneOf(command, Model, Config, Preset);
    }

    /// <summary>The config, and the name it goes by in reports (the preset, the file or the folder as given).</summary>
    public (JambaConfig Config, string Name) Load(ParseResult parse)
    {
        if (parse.GetValue(Preset) is string preset) return (Presets.FromName(preset), preset);
        string? file = parse.GetValue(Config), dir = parse.GetValue(Model);
        return (JambaConfig.Load(file ?? Path.Combine(dir!, "config.json")), file ?? dir!);
    }
}
