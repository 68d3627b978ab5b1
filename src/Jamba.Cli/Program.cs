using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Jamba.Cli;
using Jamba.Cli.Commands;

// The `jamba` tool: one command per file under Commands/, each declaring its options beside its action; help is
// generated from them. Every failure becomes one line on stderr and a non-zero exit code (2 for usage errors, 1 for
// everything else); stack traces only with JAMBA_DEBUG=1.
var help = new HelpOption();
var showHelp = new NotesHelpAction((HelpAction)help.Action!);
help.Action = showHelp;
var root = new Command("jamba", "run, inspect and build Jamba (hybrid Transformer–Mamba MoE) checkpoints in the Hugging Face format")
{
    help,
    new DemoCommand(), new InfoCommand(), new PlanCommand(), new InitCommand(), new QuantizeCommand(), new LogitsCommand(), new EvalCommand(), new GenerateCommand(),
    new ChatCommand(), new TokenizeCommand(), new TrainCommand(), new BenchCommand(), new AblateCommand(),
};
// A bare `jamba` lists the commands but is a usage error (nothing was asked); `jamba help [command]` is
// `jamba [command] --help`.
root.SetAction(parse => showHelp.Invoke(parse) is 0 ? 2 : 1);
var helpTopic = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore };
var helpCommand = new Command("help") { Hidden = true };
helpCommand.Arguments.Add(helpTopic);
helpCommand.SetAction(parse => root.Parse([.. parse.GetValue(helpTopic)!, "--help"]).Invoke());
root.Subcommands.Add(helpCommand);

// No response files: an argument such as --prompt @user is text, not a file to read.
var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (parse.Action is ParseErrorAction)
{
    Console.Error.WriteLine($"{CliErrors.CommandPath(parse)}: error: {CliErrors.Usage(parse)}");
    return 2;
}
try
{
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e)
{
    Console.Error.WriteLine($"{CliErrors.CommandPath(parse)}: error: {e.Message}");
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine($"{CliErrors.CommandPath(parse)}: error: {CliErrors.Describe(e)}");
    if (Environment.GetEnvironmentVariable("JAMBA_DEBUG") == "1") Console.Error.WriteLine(e);
    return 1;
}
