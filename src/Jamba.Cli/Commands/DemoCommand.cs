using System.CommandLine;
using System.Diagnostics;
using Jamba.Inference;
using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba demo`: the library end to end with no download: the trained tiny-stories checkpoint shipped beside the tool
/// (models/jamba-tiny-stories), a folder given with --model, or a randomly initialised preset.
/// </summary>
internal sealed class DemoCommand : JambaCommand
{
    /// <summary>Where the build puts the shipped checkpoint (copied from the repository's models/ folder).</summary>
    internal static string ShippedModelDir => Path.Combine(AppContext.BaseDirectory, "models", "jamba-tiny-stories");

    private readonly Option<string?> model = CliOption.Text("--model", "DIR", "a checkpoint folder (default: the shipped tiny-stories model)");
    private readonly Option<string?> preset = CliOption.Text("--preset", "NAME", "a randomly initialised preset instead (tiny or small; byte tokenizer, so gibberish)");
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "initialisation seed (--preset) and sampling seed", 0);
    private readonly Option<int> maxNewTokens = CliOption.Int("--max-new-tokens", "N", "tokens to generate each way", 48, 1, 100_000);
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();

    public DemoCommand() : base("demo", "load a small Jamba, save and reload it, and decode with the hybrid cache",
        "Loads the trained tiny-stories checkpoint that ships with the repository (or --model DIR, or builds --preset\n" +
        "NAME with random weights), prints its parameter counts and layer map, saves it in the reference format to a\n" +
        "temporary folder, reloads it, checks that the reloaded model gives identical logits, and generates text\n" +
        "greedily and by sampling, printing decode speed.")
    {
        Options.Add(model);
        Options.Add(preset);
        Options.Add(seed);
        Options.Add(maxNewTokens);
        Options.Add(threads);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);
        if (parse.GetValue(model) is not null && parse.GetValue(preset) is not null)
            throw new UsageException("give --model or --preset, not both");
        int newTokens = parse.GetValue(maxNewTokens);
        long seedValue = parse.GetValue(seed);
        using var created = Source(parse, seedValue, out string name, out string prompt);
        Console.Write(ModelReport.Build(created.Config, context: 4096, dtype: TorchSharp.torch.ScalarType.Float32, name: name));

        string dir = Path.Combine(Path.GetTempPath(), $"jamba-demo-{Environment.ProcessId}");
        try
        {
            created.Save(dir);
            using var model = JambaModel.Load(dir);
            Console.WriteLine($"\nSaved to {dir} (config.json + model.safetensors) and reloaded.");
            Console.WriteLine($"Reloaded logits identical: {SameLogits(created, model)}");

            Console.WriteLine($"\nPrompt: \"{prompt}\"");
            foreach (var (label, options) in new[]
            {
                ("greedy", new GenerationOptions { MaxNewTokens = newTokens, Temperature = 0f, IgnoreStopTokens = true }),
                ($"sampled (T=0.8, top-p 0.95, seed {seedValue + 1})", new GenerationOptions { MaxNewTokens = newTokens, Temperature = 0.8f, TopP = 0.95f, Seed = seedValue + 1, IgnoreStopTokens = true }),
            })
            {
                var clock = Stopwatch.StartNew();
                Console.Write($"  {label}: ");
                foreach (var piece in model.Stream(prompt, options)) Console.Write(Printable(piece));
                clock.Stop();
                Console.WriteLine($"\n    ({newTokens} tokens in {clock.Elapsed.TotalSeconds:F2} s, {newTokens / clock.Elapsed.TotalSeconds:F1} tokens/s including prefill)");
            }
        }
        finally
        {
            try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        return 0;
    }

    /// <summary>The model to demonstrate, its name in the report and a prompt in its language.</summary>
    private JambaModel Source(ParseResult parse, long seedValue, out string name, out string prompt)
    {
        if (parse.GetValue(preset) is string presetName)
        {
            var config = Presets.FromName(presetName);
            // The built-in byte tokenizer has 260 ids; a larger vocabulary would let sampling pick ids it cannot decode.
            config.VocabSize = Jamba.Tokenization.ByteTokenizer.Instance.VocabSize;
            name = $"{presetName} (random weights: the text is gibberish)";
            prompt = "The hybrid of attention and state-space layers";
            return JambaModel.Create(config, seed: seedValue);
        }
        string dir = parse.GetValue(model) ?? ShippedModelDir;
        if (!Directory.Exists(dir))
            throw new UsageException(parse.GetValue(model) is null
                ? $"the shipped model is not beside this build ({dir}); it comes with the repository (models/jamba-tiny-stories): pass --model DIR or --preset tiny"
                : $"--model {dir}: no such folder");
        name = Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar));
        prompt = "The blue cat";
        return JambaModel.Load(dir);
    }

    private static bool SameLogits(JambaModel a, JambaModel b)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var _ = TorchSharp.torch.no_grad();
        var ids = TorchSharp.torch.randint(3, a.Config.VocabSize, new long[] { 1, 16 }, generator: new TorchSharp.torch.Generator(1));
        return a.CausalLM!.Forward(ids).Logits.eq(b.CausalLM!.Forward(ids).Logits).all().item<bool>();
    }

    // Random weights produce arbitrary bytes; show control characters as '·' so the terminal stays readable.
    private static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '·' : c).ToArray());
}
