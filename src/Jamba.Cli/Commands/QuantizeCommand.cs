using System.CommandLine;
using System.Globalization;
using Jamba.Quantization;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>`jamba quantize`: a reference checkpoint folder to a quantized one (int8 or 4-bit weights).</summary>
internal sealed class QuantizeCommand : JambaCommand
{
    private readonly Option<string?> model = CliOption.Text("--model", "DIR", "a reference checkpoint folder (config.json + safetensors [+ tokenizer])").AsRequired();
    private readonly Option<string?> output = CliOption.Text("--out", "DIR", "the folder to write (replaced atomically if it exists)").AsRequired();
    private readonly Option<string> quantize = CliOption.Choice("--quantize", "Q", "int8 (per output channel) or q4 (grouped 4-bit)", "int8", "int8", "q4");
    private readonly Option<int> groupSize = ModelArgs.GroupSizeOption();
    private readonly Option<string> dtype = CliOption.Text("--dtype", "T", "dtype of what stays unquantized (embeddings, head, norms, biases): f32, bf16 or f16", "f32");
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();

    public QuantizeCommand() : base("quantize", "write a quantized checkpoint (int8 or 4-bit linear weights) from a reference checkpoint",
        "Quantizes every linear layer of the decoder (attention, Mamba and MLP/expert projections) while reading DIR, one\n" +
        "tensor at a time, and writes the quantized folder described in docs/checkpoints.md; it loads as stored with any\n" +
        "command's --model, without --quantize.")
    {
        foreach (var option in new Option[] { model, output, quantize, groupSize, dtype, threads }) Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);
        // Each layer's float weight is a large temporary; handed back to the system when freed, they never pile up
        // in the heap (see NativeHeap.ReturnLargeBlocksToSystem), so quantizing peaks near the quantized model's size.
        NativeHeap.ReturnLargeBlocksToSystem();
        string input = parse.GetValue(model)!, outDir = parse.GetValue(output)!;
        if (Path.GetFullPath(input).TrimEnd(Path.DirectorySeparatorChar) == Path.GetFullPath(outDir).TrimEnd(Path.DirectorySeparatorChar))
            throw new UsageException("--out must be another folder than --model");
        var options = new JambaModelOptions { DType = parse.GetValue(dtype)! };
        try { _ = options.TorchDType; }
        catch (ArgumentException e) { throw new UsageException($"--dtype: {e.Message}"); }
        ModelArgs.ApplyQuantization(parse, quantize, groupSize, options);
        using var loaded = JambaModel.Load(input, options);
        loaded.Save(outDir);
        long bytes = Directory.EnumerateFiles(outDir, "*.safetensors").Sum(f => new FileInfo(f).Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {outDir}: {loaded.Quantization}, {bytes / 1048576.0:F1} MiB of safetensors; {PrecisionBytes.Format(PrecisionBytes.Of(loaded.Network))}"));
        return 0;
    }
}
