using System.CommandLine;
using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>`jamba info`: parameters (total and active), the layer map, and cache bytes at a context length.</summary>
internal sealed class InfoCommand : JambaCommand
{
    private readonly ConfigSourceArgs source;
    private readonly Option<long> context = CliOption.Long("--context", "N", "context length for the cache figures (262144 = 256K)", 262144);
    private readonly Option<string> dtype = CliOption.Text("--dtype", "T", "cache/weight dtype: bf16, f16 or f32", "bf16");
    private readonly Option<int> batch = CliOption.Int("--batch", "B", "sequences", 1, 1);

    public InfoCommand() : base("info", "parameter counts (total/active), layer map, KV-cache and Mamba-state bytes at a context length",
        "Needs only config.json: nothing is loaded. Byte figures use binary units (GiB = 2^30 bytes, the paper's 'GB').")
    {
        source = new ConfigSourceArgs(this);
        Options.Add(context);
        Options.Add(dtype);
        Options.Add(batch);
    }

    protected override int Run(ParseResult parse)
    {
        var (config, name) = source.Load(parse);
        long context = parse.GetValue(this.context);
        if (context < 0) throw new UsageException($"--context must be 0 or more, got {context}");
        var dtype = Units.ParseDType(parse.GetValue(this.dtype)!);
        Console.Write(ModelReport.Build(config, context, dtype, parse.GetValue(batch), name));
        return 0;
    }
}
