using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>`jamba info`: parameters (total and active), the layer map, and cache bytes at a context length.</summary>
public sealed class InfoCommand : ICommand
{
    public string Name => "info";
    public string Summary => "parameter counts (total/active), layer map, KV-cache and Mamba-state bytes at a context length";
    public IEnumerable<string> ValueOptions => new[] { "model", "config", "preset", "context", "dtype", "batch" };
    public IEnumerable<string> FlagOptions => Array.Empty<string>();
    public string Help =>
        "usage: jamba info (--model DIR | --config FILE.json | --preset NAME) [--context N] [--dtype bf16|f16|f32] [--batch B]\n\n" +
        "Needs only config.json: nothing is loaded. Byte figures use binary units (GiB = 2^30 bytes, the paper's 'GB').\n" +
        "  --model DIR        a checkpoint folder (its config.json is read)\n" +
        "  --config FILE      a config.json\n" +
        $"  --preset NAME      one of: {string.Join(", ", Presets.Names)}\n" +
        "  --context N        context length for the cache figures (default 262144 = 256K)\n" +
        "  --dtype T          cache/weight dtype: bf16 (default), f16 or f32\n" +
        "  --batch B          sequences (default 1)";

    public int Run(CliArgs args)
    {
        int sources = new[] { "model", "config", "preset" }.Count(args.Has);
        if (sources != 1) throw new UsageException("give exactly one of --model, --config or --preset");
        JambaConfig config;
        string name;
        if (args.Get("preset") is string preset) { config = Presets.FromName(preset); name = preset; }
        else
        {
            string path = args.Get("config") ?? Path.Combine(args.Required("model"), "config.json");
            config = JambaConfig.Load(path);
            name = args.Get("config") ?? args.Required("model");
        }
        long context = args.Long("context") ?? 262144;
        if (context < 0) throw new UsageException($"--context must be 0 or more, got {context}");
        var dtype = Units.ParseDType(args.Get("dtype") ?? "bf16");
        int batch = args.Int("batch", 1, 1);
        Console.Write(ModelReport.Build(config, context, dtype, batch, name));
        return 0;
    }
}
