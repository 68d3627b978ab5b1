namespace Jamba.Quickstart;

/// <summary>
/// Settings of one quickstart run. The defaults are the README's run (about 3 minutes on 2 CPU cores); tests shrink
/// the sizes. <see cref="QuickstartCommandLine"/> fills them from the command line.
/// </summary>
public sealed class QuickstartOptions
{
    /// <summary>A TSV with <c>Text</c> and <c>Label</c> columns to use instead of the generated task; null: generated.</summary>
    public string? DataPath { get; set; }
    /// <summary>A reference checkpoint folder to start from instead of <see cref="Preset"/>; null: the preset.</summary>
    public string? ModelDir { get; set; }
    /// <summary>
    /// The language model of the generation stage when no <see cref="ModelDir"/> is given: by default the trained
    /// tiny-stories checkpoint shipped in the repository (models/jamba-tiny-stories), copied beside the program.
    /// </summary>
    public string GeneratorDir { get; set; } = Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories");
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
}
