using Jamba.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Cli.Commands;

/// <summary>`jamba logits`: one forward pass over given ids, written as a safetensors file.</summary>
public sealed class LogitsCommand : ICommand
{
    public string Name => "logits";
    public string Summary => "run a forward pass on token ids and write the logits as safetensors";
    public IEnumerable<string> ValueOptions => ModelArgs.Options.Concat(new[] { "ids", "attention-mask", "out" });
    public IEnumerable<string> FlagOptions => Array.Empty<string>();
    public string Help =>
        "usage: jamba logits --model DIR --ids \"5,9,11;7,3,2\" [--attention-mask \"1,1,1;0,1,1\"] --out FILE.safetensors\n\n" +
        "Rows are separated by ';', tokens by ','. Rows must have equal length (left-pad and give a mask).\n" +
        "Writes float32 tensor 'logits': [batch, seq, vocab] for a causal LM, [batch, num_labels] for a\n" +
        "sequence classifier (chosen by 'architectures' in config.json).\n" +
        ModelArgs.Help + "\n" +
        "  --ids ROWS         token ids\n" +
        "  --attention-mask   1 for real tokens, 0 for padding (same shape as --ids)\n" +
        "  --out FILE         output .safetensors file (written atomically)";

    public int Run(CliArgs args)
    {
        var ids = CliArgs.Matrix("ids", args.Required("ids"));
        var mask = ModelArgs.Mask(args, ids);
        string outPath = args.Required("out");
        using var model = ModelArgs.Load(args);
        ModelArgs.CheckIds(ids, model.Config.VocabSize, "ids");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var idTensor = ModelArgs.ToTensor(ids, model.Device);
        var maskTensor = mask is null ? null : ModelArgs.ToTensor(mask, model.Device);
        Tensor logits = model.Classifier is { } classifier
            ? classifier.Forward(idTensor, maskTensor).logits
            : model.CausalLM!.Forward(idTensor, maskTensor).Logits;
        SafeTensors.Save(outPath, new[] { KeyValuePair.Create("logits", logits.to_type(ScalarType.Float32).cpu().contiguous()) });
        Console.Error.WriteLine($"wrote {outPath}: logits [{string.Join(", ", logits.shape)}]");
        return 0;
    }
}
