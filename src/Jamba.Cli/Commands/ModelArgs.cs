using TorchSharp;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>The options every model-running command shares: --model, --device, --dtype, --threads.</summary>
internal static class ModelArgs
{
    public static readonly string[] Options = { "model", "device", "dtype", "threads" };

    public const string Help =
        "  --model DIR        checkpoint folder (config.json + safetensors [+ tokenizer.model])\n" +
        "  --device D         cpu (default), cuda, cuda:1 …\n" +
        "  --dtype T          f32 (default), bf16 or f16: weights are converted on load\n" +
        "  --threads N        CPU threads (default: all cores)";

    public static JambaModelOptions ModelOptions(CliArgs args)
    {
        ApplyThreads(args);
        // Long prompts allocate many megabyte-sized activations; return them to the system when freed so the
        // resident size stays at weights + cache + the live workspace (see NativeHeap.ReturnLargeBlocksToSystem).
        NativeHeap.ReturnLargeBlocksToSystem();
        var options = new JambaModelOptions { Device = args.Get("device") ?? "cpu", DType = args.Get("dtype") ?? "f32" };
        try { _ = options.TorchDType; }
        catch (ArgumentException e) { throw new UsageException($"--dtype: {e.Message}"); }
        if (options.Device.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new UsageException($"--device {options.Device}: CUDA is not available in this build (build with -p:JambaTorchBackend=cuda on a machine with an NVIDIA GPU)");
        return options;
    }

    public static JambaModel Load(CliArgs args, string? tokenizer = null)
    {
        var options = ModelOptions(args);
        options.Tokenizer = tokenizer;
        return JambaModel.Load(args.Required("model"), options);
    }

    public static void ApplyThreads(CliArgs args)
    {
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 1024);
        torch.set_num_threads(threads);
    }

    /// <summary>Checks ids against the vocabulary so a bad id is a clear error rather than a native index failure.</summary>
    public static void CheckIds(long[][] ids, int vocab, string option)
    {
        for (int r = 0; r < ids.Length; r++)
            for (int i = 0; i < ids[r].Length; i++)
                if (ids[r][i] < 0 || ids[r][i] >= vocab)
                    throw new UsageException($"--{option}: row {r}, item {i}: token id {ids[r][i]} is outside the vocabulary [0, {vocab})");
    }

    /// <summary>Parses --attention-mask against ids: same shape, only 0 and 1.</summary>
    public static long[][]? Mask(CliArgs args, long[][] ids)
    {
        if (args.Get("attention-mask") is not string text) return null;
        var mask = CliArgs.Matrix("attention-mask", text);
        if (mask.Length != ids.Length || mask.Zip(ids).Any(p => p.First.Length != p.Second.Length))
            throw new UsageException($"--attention-mask has shape [{mask.Length}, {mask[0].Length}] but --ids has [{ids.Length}, {ids[0].Length}]");
        if (mask.SelectMany(r => r).Any(v => v is not (0 or 1))) throw new UsageException("--attention-mask may hold only 0 and 1");
        for (int r = 0; r < mask.Length; r++)
            if (mask[r].All(v => v == 0)) throw new UsageException($"--attention-mask: row {r} has no real token");
        return mask;
    }

    public static torch.Tensor ToTensor(long[][] rows, torch.Device device) =>
        torch.tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length }, device: device);
}
