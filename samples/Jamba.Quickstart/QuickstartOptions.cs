using System.Globalization;

namespace Jamba.Quickstart;

/// <summary>
/// Settings of one quickstart run. The defaults are the README's run (about 3 minutes on 2 CPU cores); tests shrink
/// the sizes. <see cref="Parse"/> reads them from the command line.
/// </summary>
public sealed class QuickstartOptions
{
    /// <summary>A TSV with <c>Text</c> and <c>Label</c> columns to use instead of the generated task; null: generated.</summary>
    public string? DataPath { get; set; }
    /// <summary>A reference checkpoint folder to start from instead of <see cref="Preset"/>; null: the preset.</summary>
    public string? ModelDir { get; set; }
    /// <summary>The preset to build when no <see cref="ModelDir"/> is given.</summary>
    public string Preset { get; set; } = "tiny";
    /// <summary>Where the plots, summary and saved model go (replaced as a whole at the end of a successful run).</summary>
    public string OutputDir { get; set; } = "quickstart-output";
    /// <summary>Seed of everything random: data, weights, data order, baselines.</summary>
    public int Seed { get; set; } = 1;
    /// <summary>Generated task: training rows.</summary>
    public int TrainRows { get; set; } = 800;
    /// <summary>Generated task: test rows.</summary>
    public int TestRows { get; set; } = 400;
    /// <summary>Fine-tuning epochs.</summary>
    public int Epochs { get; set; } = 4;
    /// <summary>Fine-tuning batch size.</summary>
    public int BatchSize { get; set; } = 16;
    /// <summary>Peak fine-tuning learning rate (a from-scratch model this small wants a large one).</summary>
    public float LearningRate { get; set; } = 2e-3f;
    /// <summary>Tokens kept per text (the byte tokenizer makes one token per character).</summary>
    public int MaxTokens { get; set; } = 128;
    /// <summary>New tokens per generated continuation.</summary>
    public int GenerateTokens { get; set; } = 32;
    /// <summary>libtorch CPU threads; null leaves libtorch's default.</summary>
    public int? Threads { get; set; }

    /// <summary>The usage text for <c>--help</c>.</summary>
    public const string Usage =
        "usage: dotnet run --project samples/Jamba.Quickstart [-- options]\n\n" +
        "Builds a small Jamba, fine-tunes it as an ML.NET classifier, compares it with ML.NET's FeaturizeText +\n" +
        "SdcaMaximumEntropy baseline, saves/reloads/predicts, generates with the hybrid cache, and writes plots and a\n" +
        "summary. Without --data it uses a generated task in which the label is the animal mentioned first.\n\n" +
        "  --data FILE.tsv     your data: a header row with Text and Label columns (tab-separated)\n" +
        "  --model DIR         start from a reference checkpoint folder instead of the preset\n" +
        "  --preset NAME       preset to build (default tiny)\n" +
        "  --out DIR           output folder (default ./quickstart-output)\n" +
        "  --seed N            seed of everything random (default 1)\n" +
        "  --epochs N          fine-tuning epochs (default 4)\n" +
        "  --train-rows N      generated training rows (default 800)\n" +
        "  --test-rows N       generated test rows (default 400)\n" +
        "  --lr X              peak learning rate (default 0.002)\n" +
        "  --threads N         libtorch CPU threads (default: libtorch's choice)\n";

    /// <summary>
    /// Parses the command line; returns null for <c>--help</c>.
    /// </summary>
    /// <exception cref="QuickstartInputException">An unknown option, a missing value or a value out of range.</exception>
    public static QuickstartOptions? Parse(IReadOnlyList<string> args)
    {
        var o = new QuickstartOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name is "--help" or "-h") return null;
            string Value() => i + 1 < args.Count ? args[++i] : throw new QuickstartInputException($"{name} needs a value");
            switch (name)
            {
                case "--data": o.DataPath = Value(); break;
                case "--model": o.ModelDir = Value(); break;
                case "--preset": o.Preset = Value(); break;
                case "--out": o.OutputDir = Value(); break;
                case "--seed": o.Seed = Int(name, Value(), 0, int.MaxValue); break;
                case "--epochs": o.Epochs = Int(name, Value(), 1, 1000); break;
                case "--train-rows": o.TrainRows = Int(name, Value(), 8, 10_000_000); break;
                case "--test-rows": o.TestRows = Int(name, Value(), 4, 10_000_000); break;
                case "--threads": o.Threads = Int(name, Value(), 1, 1024); break;
                case "--lr":
                    if (!float.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var lr) || !(lr > 0) || !float.IsFinite(lr))
                        throw new QuickstartInputException($"--lr must be a positive number, got '{args[i]}'");
                    o.LearningRate = lr;
                    break;
                default: throw new QuickstartInputException($"unknown option '{name}' (see --help)");
            }
        }
        return o;
    }

    private static int Int(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? v : throw new QuickstartInputException($"{name} must be an integer from {min} to {max}, got '{value}'");
}
