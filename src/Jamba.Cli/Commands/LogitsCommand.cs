using System.CommandLine;
using Jamba.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Cli.Commands;

/// <summary>`jamba logits`: one forward pass over given ids, written as a safetensors file.</summary>
internal sealed class LogitsCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<long[][]?> ids = CliOption.IdRows("--ids", "ROWS", "token ids: rows by ';', ids by ',' (e.g. \"5,9,11;7,3,2\")").AsRequired();
    private readonly Option<long[][]?> attentionMask = ModelArgs.MaskOption("1 for real tokens, 0 for padding, same shape as --ids (e.g. \"1,1,1;0,1,1\")");
    private readonly Option<string?> output = CliOption.Text("--out", "FILE", "output .safetensors file (written atomically)").AsRequired();

    public LogitsCommand() : base("logits", "run a forward pass on token ids and write the logits as safetensors",
        "Rows must have equal length (left-pad and give a mask). Writes float32 tensor 'logits': [batch, seq, vocab] for a\n" +
        "causal LM, [batch, num_labels] for a sequence classifier (chosen by 'architectures' in config.json).")
    {
        modelArgs = new ModelArgs(this);
        Options.Add(ids);
        Options.Add(attentionMask);
        Options.Add(output);
    }

    protected override int Run(ParseResult parse)
    {
        var ids = parse.GetValue(this.ids)!;
        var mask = ModelArgs.Mask(parse.GivenValue(attentionMask), ids);
        string outPath = parse.GetValue(output)!;
        using var model = modelArgs.Load(parse);
        ModelArgs.CheckIds(ids, model.Config.VocabSize, "--ids");
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
