namespace Jamba.Cli.Commands;

/// <summary>`jamba init`: a randomly initialised checkpoint folder from a config.</summary>
public sealed class InitCommand : ICommand
{
    public string Name => "init";
    public string Summary => "write a randomly initialised checkpoint folder for a config.json";
    public IEnumerable<string> ValueOptions => new[] { "config", "out", "seed", "dtype", "tokenizer" };
    public IEnumerable<string> FlagOptions => Array.Empty<string>();
    public string Help =>
        "usage: jamba init --config FILE.json --out DIR [--seed S] [--dtype f32|bf16|f16] [--tokenizer FILE|byte]\n\n" +
        "Writes DIR/config.json and DIR/model.safetensors (Hugging Face names and layout; loads in transformers).\n" +
        "  --config FILE      a Jamba config.json (reference field names)\n" +
        "  --out DIR          the folder to write (replaced atomically if it exists)\n" +
        "  --seed S           initialisation seed (default 0)\n" +
        "  --dtype T          storage dtype (default f32)\n" +
        "  --tokenizer T      a SentencePiece tokenizer.model to ship with it, or 'byte' (default: byte when the vocab has room)";

    public int Run(CliArgs args)
    {
        var config = JambaConfig.Load(args.Required("config"));
        string outDir = args.Required("out");
        var options = new JambaModelOptions { DType = args.Get("dtype") ?? "f32", Tokenizer = args.Get("tokenizer") };
        using var model = JambaModel.Create(config, options, args.Long("seed") ?? 0);
        model.Save(outDir);
        long parameters = model.Network.parameters().Sum(p => p.numel());
        Console.WriteLine($"wrote {outDir}: {parameters:N0} parameters, layers {config.LayerMap()}");
        return 0;
    }
}
