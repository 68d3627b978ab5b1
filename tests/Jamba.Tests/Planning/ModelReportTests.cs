using Jamba.Planning;
using static TorchSharp.torch;

namespace Jamba.Tests.Planning;

[TestClass]
public sealed class ModelReportTests
{
    [TestMethod]
    public void JambaReportHasTheHeadlineFigures()
    {
        string r = ModelReport.Build(Presets.JambaV01(), 262144, ScalarType.BFloat16, name: "jamba-v0.1");
        StringAssert.Contains(r, "51.57B");
        StringAssert.Contains(r, "12.11B");
        StringAssert.Contains(r, "KV cache:     4.00 GiB");
        StringAssert.Contains(r, "16.0 KiB");
        StringAssert.Contains(r, "a:m = 4:28");
        // One line per layer, with the attention layer at 4 and MoE on 1.
        StringAssert.Matches(r, new System.Text.RegularExpressions.Regex(@"\n\s+4  attention\s+MLP"));
        StringAssert.Matches(r, new System.Text.RegularExpressions.Regex(@"\n\s+1  mamba\s+MoE 16x top-2"));
    }

    [TestMethod]
    public void UnitsUseBinaryBytesAndDecimalParams()
    {
        Assert.AreEqual("4.00 GiB", Units.Bytes(4 * Units.GiB));
        Assert.AreEqual("1.5 MiB", Units.Bytes(3 * Units.MiB / 2));
        Assert.AreEqual("512 B", Units.Bytes(512));
        Assert.AreEqual("77.36M", Units.Params(77_359_040));
        Assert.AreEqual("6.74B", Units.Params(6_738_415_616));
        Assert.AreEqual(ScalarType.BFloat16, Units.ParseDType("BF16"));
        Assert.ThrowsExactly<ArgumentException>(() => Units.ParseDType("int3"));
    }

    [TestMethod]
    public void ClassifierReportShowsScoreHead()
    {
        var c = Presets.Tiny();
        c.Architectures = new() { "JambaForSequenceClassification" };
        string r = ModelReport.Build(c, 1024, ScalarType.Float32);
        StringAssert.Contains(r, "sequence classification, 2 labels");
        StringAssert.Contains(r, "score head:");
    }
}
