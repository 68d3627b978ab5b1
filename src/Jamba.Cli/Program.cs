using System.Runtime.InteropServices;
using Jamba;
using Jamba.Checkpoints;
using Jamba.Cli;
using Jamba.Cli.Commands;

// The `jamba` tool: one class per command under Commands/. Every failure becomes one line on stderr and a non-zero
// exit code (2 for usage errors, 1 for everything else); stack traces only with JAMBA_DEBUG=1.
var commands = new ICommand[]
{
    new DemoCommand(), new InfoCommand(), new PlanCommand(), new InitCommand(), new LogitsCommand(), new GenerateCommand(),
    new TokenizeCommand(), new TrainCommand(), new BenchCommand(), new BenchContextCommand(), new AblateCommand(),
};

// `jamba bench context` is its own command class (the speed benchmark `jamba bench` lives elsewhere): route it.
if (args.Length >= 2 && args[0] == "bench" && args[1] == "context") args = new[] { "bench-context" }.Concat(args.Skip(2)).ToArray();

if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
{
    Console.WriteLine("jamba — run, inspect and build Jamba (hybrid Transformer–Mamba MoE) checkpoints in the Hugging Face format.\n");
    Console.WriteLine("usage: jamba <command> [options]   (jamba <command> --help for its options)\n");
    foreach (var c in commands) Console.WriteLine($"  {c.Name,-10} {c.Summary}");
    return args.Length == 0 ? 2 : 0;
}

var command = commands.FirstOrDefault(c => c.Name == args[0]);
if (command is null)
{
    Console.Error.WriteLine($"jamba: error: unknown command '{args[0]}' (commands: {string.Join(", ", commands.Select(c => c.Name))})");
    return 2;
}

try
{
    var parsed = new CliArgs(args.Skip(1), command.ValueOptions, command.FlagOptions);
    if (parsed.Flag("help"))
    {
        Console.WriteLine(command.Help);
        return 0;
    }
    if (parsed.Positional.Count > 0 && !command.TakesPositional) throw new UsageException($"unexpected argument '{parsed.Positional[0]}' (see jamba {command.Name} --help)");
    return command.Run(parsed);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"jamba {command.Name}: error: {e.Message}");
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine($"jamba {command.Name}: error: {Describe(e)}");
    if (Environment.GetEnvironmentVariable("JAMBA_DEBUG") == "1") Console.Error.WriteLine(e);
    return 1;
}

static string Describe(Exception e) => e switch
{
    JambaConfigException or CheckpointException or FileNotFoundException or DirectoryNotFoundException
        or InvalidDataException or ArgumentException or InvalidOperationException or NotSupportedException
        or OperationCanceledException or IOException or UnauthorizedAccessException => OneLine(e.Message),
    // libtorch errors arrive as ExternalException with a C++ backtrace appended: keep the first line.
    ExternalException => "torch: " + OneLine(e.Message),
    _ => $"{e.GetType().Name}: {OneLine(e.Message)}",
};

static string OneLine(string s)
{
    int nl = s.IndexOfAny(new[] { '\r', '\n' });
    return nl < 0 ? s : s[..nl];
}
