using System.CommandLine;
using System.Globalization;
using Jamba.Lab.Experiments.Precision;
using Jamba.Quantization;
using Jamba.Training;

namespace Jamba.Cli.Commands;

/// <summary>`jamba eval`: perplexity of one checkpoint at several precisions, and top-1 agreement with the first.</summary>
internal sealed class EvalCommand : JambaCommand
{
    private readonly Option<string?> model = CliOption.Text("--model", "DIR", "a checkpoint folder with a tokenizer").AsRequired();
    private readonly Option<string?> data = CliOption.Text("--data", "PATH", "texts: a file or folder (.txt documents separated by blank lines, .jsonl, .tsv)").AsRequired();
    private readonly Option<string> format = CliOption.Choice("--format", "F", "data layout", "auto", "auto", "text", "jsonl", "tsv");
    private readonly Option<string> precisions = CliOption.Text("--precisions", "LIST", "comma-separated: f32, bf16, int8, q4 (the quantized ones keep the rest in f32 and round activations to int8), int8-wo, q4-wo (weight-only: activations as they are); the first is the reference", "f32,bf16,int8,q4");
    private readonly Option<int> groupSize = ModelArgs.GroupSizeOption();
    private readonly Option<int> maxTokens = CliOption.Int("--max-tokens", "N", "tokens per text, BOS included (longer texts keep their start)", 1024, 2);
    private readonly Option<int> maxTexts = CliOption.Int("--max-texts", "N", "score the first N texts (0: all)", 0, 0);
    private readonly Option<int> batch = CliOption.Int("--batch", "B", "texts per forward pass", 8, 1);
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();

    public EvalCommand() : base("eval", "perplexity of a checkpoint at f32, bf16, int8 and 4-bit, and top-1 agreement with the first precision",
        "Loads --model once per precision (one at a time) and scores every text as one row starting with BOS, as\n" +
        "EvaluateLanguageModel does: cross-entropy per predicted token, perplexity, its change against the first precision,\n" +
        "and the share of positions whose most likely next token equals the first precision's.")
    {
        foreach (var option in new Option[] { model, data, format, precisions, groupSize, maxTokens, maxTexts, batch, threads }) Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);
        int group = parse.GetValue(groupSize);
        var chosen = new List<(string, JambaModelOptions)>();
        foreach (var p in parse.GetValue(precisions)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            chosen.Add(p switch
            {
                "f32" or "bf16" or "f16" => (p, new JambaModelOptions { DType = p }),
                "int8" or "q4" or "int8-wo" or "q4-wo" => (p.StartsWith("q4") ? $"q4{p[2..]} (G={group})" : p, new JambaModelOptions
                {
                    DType = "f32",
                    Quantization = QuantizationConfig.ParseScheme(p[..^(p.EndsWith("-wo") ? 3 : 0)]),
                    GroupSize = group,
                    ActivationQuantization = p.EndsWith("-wo") ? ActivationQuantization.None : ActivationQuantization.Int8,
                }),
                _ => throw new UsageException($"--precisions: unknown precision '{p}' (use f32, bf16, f16, int8, q4, int8-wo, q4-wo)"),
            });
        if (chosen.Count == 0) throw new UsageException("--precisions is empty");
        var texts = TextCorpus.Read(parse.GetValue(data)!, TextCorpus.ParseFormat(parse.GetValue(format)!));
        if (parse.GetValue(maxTexts) is int n and > 0) texts = texts.Take(n).ToList();
        var results = PrecisionComparison.Run(parse.GetValue(model)!, texts, chosen, parse.GetValue(maxTokens), parse.GetValue(batch), line => Console.Error.WriteLine(line));
        Console.Write(Format(results, texts.Count));
        return 0;
    }

    internal static string Format(IReadOnlyList<PrecisionResult> results, int texts)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        var first = results[0];
        w.WriteLine($"{texts} texts, {first.Tokens} predicted tokens; agreement and change against {first.Precision}");
        w.WriteLine($"{"precision",-12} {"weights MiB",11} {"nats/token",11} {"perplexity",11} {"change",8} {"top-1 agree",12} {"seconds",8}");
        foreach (var r in results)
            w.WriteLine($"{r.Precision,-12} {r.WeightBytes / 1048576.0,11:F1} {r.CrossEntropy,11:F5} {r.Perplexity,11:F4} {(r.Perplexity / first.Perplexity - 1) * 100,7:+0.00;-0.00;0.00}% {r.Top1Agreement * 100,11:F2}% {r.Seconds,8:F1}");
        return w.ToString();
    }
}
