using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Jamba.Quickstart;

/// <summary>
/// The quickstart's command line on System.CommandLine: its options fill a <see cref="QuickstartOptions"/> and its
/// help is generated from them. A bad command line is a <see cref="QuickstartInputException"/>, like any bad input.
/// </summary>
public static class QuickstartCommandLine
{
    private static readonly QuickstartOptions Defaults = new();

    private static readonly Option<string?> Data = Text("--data", "FILE.tsv", "your data: a header row with Text and Label columns (tab-separated)");
    private static readonly Option<string?> Model = Text("--model", "DIR", "start from a reference checkpoint folder instead of the preset (also used for generation instead of the shipped model)");
    private static readonly Option<string?> Preset = Text("--preset", "NAME", "preset to build").WithDefault(Defaults.Preset);
    private static readonly Option<string?> Output = Text("--out", "DIR", "output folder").WithDefault(Defaults.OutputDir);
    private static readonly Option<int> Seed = Int("--seed", "N", "seed of everything random", 0, int.MaxValue).WithDefault(Defaults.Seed);
    private static readonly Option<int> Epochs = Int("--epochs", "N", "fine-tuning epochs", 1, 1000).WithDefault(Defaults.Epochs);
    private static readonly Option<int> TrainRows = Int("--train-rows", "N", "generated training rows", 8, 10_000_000).WithDefault(Defaults.TrainRows);
    private static readonly Option<int> TestRows = Int("--test-rows", "N", "generated test rows", 4, 10_000_000).WithDefault(Defaults.TestRows);
    private static readonly Option<float> LearningRate = Create("--lr", "X", "peak learning rate",
        s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) && lr > 0 && float.IsFinite(lr)
            ? lr : throw new QuickstartInputException($"--lr must be a positive number, got '{s}'")).WithDefault(Defaults.LearningRate);
    private static readonly Option<int?> Threads = Create<int?>("--threads", "N", "libtorch CPU threads (default: libtorch's choice)", s => Int("--threads", s, 1, 1024));

    /// <summary>
    /// Parses <paramref name="args"/> and runs <paramref name="run"/> with the options, or prints help for
    /// <c>--help</c>; returns the exit code.
    /// </summary>
    /// <exception cref="QuickstartInputException">An unknown option, a missing value or a value out of range.</exception>
    public static int Invoke(string[] args, Func<QuickstartOptions, int> run)
    {
        var command = new RootCommand(
            "Builds a small Jamba, fine-tunes it as an ML.NET classifier, compares it with ML.NET's FeaturizeText +\n" +
            "SdcaMaximumEntropy baseline, saves/reloads/predicts, generates with the hybrid cache, and writes plots and a\n" +
            "summary. Without --data it uses a generated task in which the label is the animal mentioned first.\n" +
            "Run it with: dotnet run --project samples/Jamba.Quickstart [-- options]")
        {
            Data, Model, Preset, Output, Seed, Epochs, TrainRows, TestRows, LearningRate, Threads,
        };
        command.SetAction(parse => run(Options(parse)));
        var parse = command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0 && parse.Action is System.CommandLine.Invocation.ParseErrorAction) throw new QuickstartInputException(Error(parse));
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    private static QuickstartOptions Options(ParseResult parse) => new()
    {
        DataPath = parse.GetValue(Data),
        ModelDir = parse.GetValue(Model),
        Preset = parse.GetValue(Preset)!,
        OutputDir = parse.GetValue(Output)!,
        Seed = parse.GetValue(Seed),
        Epochs = parse.GetValue(Epochs),
        TrainRows = parse.GetValue(TrainRows),
        TestRows = parse.GetValue(TestRows),
        LearningRate = parse.GetValue(LearningRate),
        Threads = parse.GetValue(Threads),
    };

    /// <summary>One line for a command line that did not parse, in the quickstart's own words.</summary>
    private static string Error(ParseResult parse)
    {
        if (parse.UnmatchedTokens.Count > 0) return $"unknown option '{parse.UnmatchedTokens[0]}' (see --help)";
        foreach (var error in parse.Errors)
            if (error.SymbolResult is OptionResult { Tokens.Count: 0 } option) return $"{option.Option.Name} needs a value";
        return parse.Errors[0].Message;
    }

    private static Option<T> Create<T>(string name, string helpName, string description, Func<string, T> parse) => new(name)
    {
        HelpName = helpName,
        Description = description,
        CustomParser = result =>
        {
            try { return parse(result.Tokens[^1].Value); }
            catch (QuickstartInputException e)
            {
                result.AddError(e.Message);
                return default;
            }
        },
        // A repeated option keeps its last value, as the hand parser this replaces did.
        AllowMultipleArgumentsPerToken = true,
    };

    private static Option<T> WithDefault<T>(this Option<T> option, T value)
    {
        option.DefaultValueFactory = _ => value;
        return option;
    }

    private static Option<string?> Text(string name, string helpName, string description) => Create<string?>(name, helpName, description, s => s);

    private static Option<int> Int(string name, string helpName, string description, int min, int max) =>
        Create(name, helpName, description, s => Int(name, s, min, max));

    private static int Int(string name, string s, int min, int max) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v : throw new QuickstartInputException($"{name} must be an integer from {min} to {max}, got '{s}'");
}
