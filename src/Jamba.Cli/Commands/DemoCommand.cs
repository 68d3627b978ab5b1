using System.CommandLine;
using System.Diagnostics;
using Jamba.Inference;
using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>`jamba demo`: the library end to end on a checkpoint it makes itself (no download, no files needed).</summary>
internal sealed class DemoCommand : JambaCommand
{
    private readonly Option<string> preset = CliOption.Text("--preset", "NAME", "the preset to build: tiny or small", "tiny");
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "initialisation seed", 0);
    private readonly Option<int> maxNewTokens = CliOption.Int("--max-new-tokens", "N", "tokens to generate each way", 48, 1, 100_000);
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();

    public DemoCommand() : base("demo", "initialise a small Jamba, save and reload it, and decode with the hybrid cache",
        "Builds a randomly initialised model from a preset with the built-in byte tokenizer, prints its parameter\n" +
        "counts and layer map, saves it in the reference format to a temporary folder, reloads it, checks that the\n" +
        "reloaded model gives identical logits, and generates text greedily and by sampling, printing decode speed.\n" +
        "The weights are random, so the text is gibberish: this shows the machinery, not a trained model.")
    {
        Options.Add(preset);
        Options.Add(seed);
        Options.Add(maxNewTokens);
        Options.Add(threads);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);
        string preset = parse.GetValue(this.preset)!;
        var config = Presets.FromName(preset);
        // The built-in byte tokenizer has 260 ids; a larger vocabulary would let sampling pick ids it cannot decode.
        config.VocabSize = Jamba.Tokenization.ByteTokenizer.Instance.VocabSize;
        int newTokens = parse.GetValue(maxNewTokens);
        Console.Write(ModelReport.Build(config, context: 4096, dtype: TorchSharp.torch.ScalarType.Float32, name: preset));

        string dir = Path.Combine(Path.GetTempPath(), $"jamba-demo-{Environment.ProcessId}");
        try
        {
            using var created = JambaModel.Create(config, seed: parse.GetValue(seed));
            created.Save(dir);
            using var model = JambaModel.Load(dir);
            Console.WriteLine($"\nSaved to {dir} (config.json + model.safetensors) and reloaded.");
            Console.WriteLine($"Reloaded logits identical: {SameLogits(created, model)}");

            var prompt = "The hybrid of attention and state-space layers";
            Console.WriteLine($"\nPrompt: \"{prompt}\"");
            foreach (var (label, options) in new[]
            {
                ("greedy", new GenerationOptions { MaxNewTokens = newTokens, IgnoreStopTokens = true }),
                ("sampled (T=0.8, top-p 0.95, seed 1)", new GenerationOptions { MaxNewTokens = newTokens, Temperature = 0.8f, TopP = 0.95f, Seed = 1, IgnoreStopTokens = true }),
            })
            {
                var clock = Stopwatch.StartNew();
                int produced = 0;
                Console.Write($"  {label}: ");
                foreach (var piece in model.Stream(prompt, options)) { produced++; Console.Write(Printable(piece)); }
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
