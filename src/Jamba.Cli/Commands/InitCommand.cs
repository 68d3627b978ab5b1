using System.CommandLine;
using Jamba.Planning;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>`jamba init`: a randomly initialised checkpoint folder from a config.</summary>
internal sealed class InitCommand : JambaCommand
{
    private readonly Option<string?> config = CliOption.Text("--config", "FILE", "a Jamba config.json (reference field names)").AsRequired();
    private readonly Option<string?> output = CliOption.Text("--out", "DIR", "the folder to write (replaced atomically if it exists)").AsRequired();
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "initialisation seed", 0);
    private readonly Option<string> dtype = CliOption.Text("--dtype", "T", "storage dtype: f32, bf16 or f16", "f32");
    private readonly Option<string?> tokenizer = CliOption.Text("--tokenizer", "T",
        "a SentencePiece tokenizer.model to ship with it, or 'byte' (default: byte when the vocab has room)");
    private readonly Option<string> quantize = ModelArgs.QuantizeOption("int8 or q4: write a quantized checkpoint (weights drawn and quantized a layer at a time); none keeps --dtype");
    private readonly Option<int> groupSize = ModelArgs.GroupSizeOption();

    public InitCommand() : base("init", "write a randomly initialised checkpoint folder for a config.json",
        "Writes DIR/config.json and DIR/model.safetensors (Hugging Face names and layout; loads in transformers).")
    {
        Options.Add(config);
        Options.Add(output);
        Options.Add(seed);
        Options.Add(dtype);
        Options.Add(tokenizer);
        Options.Add(quantize);
        Options.Add(groupSize);
    }

    protected override int Run(ParseResult parse)
    {
        var config = JambaConfig.Load(parse.GetValue(this.config)!);
        NativeHeap.ReturnLargeBlocksToSystem();   // a quantized init draws each layer in float32 before quantizing it
        string outDir = parse.GetValue(output)!;
        var options = new JambaModelOptions { DType = parse.GetValue(dtype)!, Tokenizer = parse.GetValue(tokenizer) };
        ModelArgs.ApplyQuantization(parse, quantize, groupSize, options);
        using var model = JambaModel.Create(config, options, parse.GetValue(seed));
        model.Save(outDir);
        long parameters = ParameterCount.TotalOf(model.Config);
        Console.WriteLine($"wrote {outDir}: {parameters:N0} parameters, layers {config.LayerMap()}");
        return 0;
    }
}
