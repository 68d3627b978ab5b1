using System.CommandLine;
using TorchSharp;
using Jamba.Quantization;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>
/// The options every model-running command shares: --model, --device, --dtype, --quantize, --group-size,
/// --activations and --threads, added to a command together; plus the checks on token ids those commands share.
/// </summary>
internal sealed class ModelArgs
{
    /// <summary>The checkpoint folder.</summary>
    public Option<string?> Model { get; }
    /// <summary>The torch device; null on a command that runs on the CPU only.</summary>
    public Option<string>? Device { get; }
    /// <summary>The weights' dtype.</summary>
    public Option<string> DType { get; }
    /// <summary>libtorch CPU threads.</summary>
    public Option<int?> Threads { get; } = ThreadsOption();
    /// <summary>Weight-only quantization of the decoder's linear layers.</summary>
    public Option<string> Quantize { get; } = QuantizeOption();
    /// <summary>Weights per scale of 4-bit quantization.</summary>
    public Option<int> GroupSize { get; } = GroupSizeOption();
    /// <summary>What the quantized linears do with their inputs.</summary>
    public Option<string> Activations { get; } = ActivationsOption();

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public ModelArgs(Command command, bool modelRequired = true, string dtypeDescription = "f32, bf16 or f16: weights are converted on load",
        bool device = true, string modelDescription = "checkpoint folder (config.json + safetensors [+ tokenizer.model])")
    {
        Model = CliOption.Text("--model", "DIR", modelDescription);
        if (modelRequired) Model.AsRequired();
        if (device) Device = CliOption.Text("--device", "D", "cpu, cuda, cuda:1 …", "cpu");
        DType = CliOption.Text("--dtype", "T", dtypeDescription, "f32");
        command.Options.Add(Model);
        if (Device is not null) command.Options.Add(Device);
        command.Options.Add(DType);
        command.Options.Add(Quantize);
        command.Options.Add(GroupSize);
        command.Options.Add(Activations);
        command.Options.Add(Threads);
    }

    /// <summary>The --quantize option: none, int8 or q4.</summary>
    public static Option<string> QuantizeOption(string description =
        "int8 or q4: quantize the linear layers' weights while loading (a quantized checkpoint loads as stored); none keeps --dtype") =>
        CliOption.Choice("--quantize", "Q", description, "none", "none", "int8", "q4");

    /// <summary>The --group-size option of 4-bit quantization.</summary>
    public static Option<int> GroupSizeOption() =>
        CliOption.Create("--group-size", "G", "weights per scale with --quantize q4: 32 or 64", s => s is "32" or "64"
            ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : throw new UsageException($"--group-size must be 32 or 64, got '{s}'")).WithDefault(32);

    /// <summary>Sets the quantization options of <paramref name="options"/> from --quantize and --group-size.</summary>
    public static void ApplyQuantization(ParseResult parse, Option<string> quantize, Option<int> groupSize, JambaModelOptions options)
    {
        options.Quantization = QuantizationConfig.ParseScheme(parse.GetValue(quantize)!);
        options.GroupSize = parse.GetValue(groupSize);
    }

    /// <summary>The --activations option: none or int8.</summary>
    public static Option<string> ActivationsOption() =>
        CliOption.Choice("--activations", "A", "with --quantize (or a quantized checkpoint): int8 rounds each linear's input to int8 per block of 32 "
            + "and multiplies in integers (faster decoding on the CPU, slightly other numerics); none multiplies the inputs as they are (weight-only)", "int8", "int8", "none");

    /// <summary>Maps --activations to <see cref="ActivationQuantization"/>.</summary>
    public static ActivationQuantization ParseActivations(string value) => value switch
    {
        "int8" => ActivationQuantization.Int8,
        "none" => ActivationQuantization.None,
        _ => throw new UsageException($"--activations must be none or int8, got '{value}'"),
    };

    /// <summary>The --threads option, for commands that run torch without loading a model.</summary>
    public static Option<int?> ThreadsOption(string description = "CPU threads (default: all cores)") =>
        CliOption.OptionalInt("--threads", "N", description, 1, 1024);

    /// <summary>Sets libtorch's CPU threads from --threads (default: all cores).</summary>
    public static void ApplyThreads(ParseResult parse, Option<int?> threads) =>
        torch.set_num_threads(parse.GetValue(threads) ?? Environment.ProcessorCount);

    public JambaModelOptions ModelOptions(ParseResult parse)
    {
        ApplyThreads(parse, Threads);
        // Long prompts allocate many megabyte-sized activations; return them to the system when freed so the
        // resident size stays at weights + cache + the live workspace (see NativeHeap.ReturnLargeBlocksToSystem).
        NativeHeap.ReturnLargeBlocksToSystem();
        var options = new JambaModelOptions { Device = Device is null ? "cpu" : parse.GetValue(Device)!, DType = parse.GetValue(DType)! };
        try { _ = options.TorchDType; }
        catch (ArgumentException e) { throw new UsageException($"--dtype: {e.Message}"); }
        ApplyQuantization(parse, Quantize, GroupSize, options);
        options.ActivationQuantization = ParseActivations(parse.GetValue(Activations)!);
        if (options.Device.StartsWith("cuda", StringComparison.Ordinal) && !torch.cuda.is_available())
            throw new UsageException($"--device {options.Device}: CUDA is not available in this build (build with -p:JambaTorchBackend=cuda on a machine with an NVIDIA GPU)");
        return options;
    }

    public JambaModel Load(ParseResult parse, string? tokenizer = null)
    {
        var options = ModelOptions(parse);
        options.Tokenizer = tokenizer;
        return JambaModel.Load(parse.GetValue(Model)!, options);
    }

    /// <summary>Checks ids against the vocabulary so a bad id is a clear error rather than a native index failure.</summary>
    public static void CheckIds(long[][] ids, int vocab, string option)
    {
        for (int r = 0; r < ids.Length; r++)
            for (int i = 0; i < ids[r].Length; i++)
                if (ids[r][i] < 0 || ids[r][i] >= vocab)
                    throw new UsageException($"{option}: row {r}, item {i}: token id {ids[r][i]} is outside the vocabulary [0, {vocab})");
    }

    /// <summary>The --attention-mask option: 1 for real tokens, 0 for padding, in the shape of --ids.</summary>
    public static Option<long[][]?> MaskOption(string description) => CliOption.IdRows("--attention-mask", "ROWS", description);

    /// <summary>Checks --attention-mask against ids: same shape, only 0 and 1, a real token in every row.</summary>
    public static long[][]? Mask(long[][]? mask, long[][] ids)
    {
        if (mask is null) return null;
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
