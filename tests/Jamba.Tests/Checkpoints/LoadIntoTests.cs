using Jamba.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

/// <summary>A tiny module tree whose parameter names look like HF's (<c>model.layers.0.q_proj.weight</c>).</summary>
internal sealed class TinyLayer : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear o_proj;

    public TinyLayer(int d) : base(nameof(TinyLayer))
    {
        q_proj = nn.Linear(d, d, hasBias: false);
        o_proj = nn.Linear(d, 3, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => o_proj.forward(q_proj.forward(x));
}

internal sealed class TinyBackbone : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<TinyLayer> layers;

    public TinyBackbone(int d, int n) : base(nameof(TinyBackbone))
    {
        embed_tokens = nn.Embedding(10, d);
        layers = nn.ModuleList(Enumerable.Range(0, n).Select(_ => new TinyLayer(d)).ToArray());
        RegisterComponents();
        register_buffer("scale", torch.ones(d), persistent: true);
        register_buffer("cache", torch.zeros(d), persistent: false);
    }

    public override Tensor forward(Tensor x) => x;
}

internal sealed class TinyModel : nn.Module<Tensor, Tensor>
{
    private readonly TinyBackbone model;
    private readonly Linear lm_head;

    public TinyModel(int d = 4, int n = 2) : base(nameof(TinyModel))
    {
        model = new TinyBackbone(d, n);
        lm_head = nn.Linear(d, 10, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => x;

    /// <summary>A detached copy of every state entry, for "unchanged" and "copied" checks.</summary>
    public Dictionary<string, Tensor> Snapshot() =>
        named_parameters().Select(p => (p.name, t: (Tensor)p.parameter))
            .Concat(named_buffers(true, false).Select(b => (b.name, t: b.buffer)))
            .ToDictionary(p => p.name, p => p.t.detach().clone());
}

[TestClass]
public sealed class LoadIntoTests
{
    private static readonly string[] ExpectedNames =
    {
        "model.embed_tokens.weight", "model.layers.0.q_proj.weight", "model.layers.0.o_proj.weight", "model.layers.0.o_proj.bias",
        "model.layers.1.q_proj.weight", "model.layers.1.o_proj.weight", "model.layers.1.o_proj.bias", "model.scale", "lm_head.weight",
    };

    [TestMethod]
    public void TestModule_HasHfStyleNames()
    {
        using var m = new TinyModel();
        var snap = m.Snapshot();
        CollectionAssert.AreEquivalent(ExpectedNames, snap.Keys.ToArray(), string.Join(",", snap.Keys));
        DisposeAll(snap.Values);
    }

    [TestMethod]
    public void LoadInto_ReportsMissingUnexpectedAndShapeMismatchTogether_AndChangesNothing()
    {
        using var m = new TinyModel();
        var before = m.Snapshot();
        var sd = before.ToDictionary(p => p.Key, p => torch.randn_like(p.Value));
        sd["model.layers.1.o_proj.weight"].Dispose();
        sd.Remove("model.layers.1.o_proj.weight");                       // missing
        sd.Remove("model.scale");                                        // missing (buffer)
        sd["model.layers.2.q_proj.weight"] = torch.randn(4, 4);          // unexpected
        sd["model.layers.0.q_proj.weight"] = torch.randn(4, 5);          // mis-shaped
        sd["lm_head.weight"] = torch.randn(9, 4);                        // mis-shaped
        try
        {
            var e = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadInto(m, sd));
            StringAssert.Contains(e.Message, "2 missing keys (model.layers.1.o_proj.weight, model.scale)");
            StringAssert.Contains(e.Message, "1 unexpected key (model.layers.2.q_proj.weight)");
            StringAssert.Contains(e.Message, "2 shape mismatches");
            StringAssert.Contains(e.Message, "model.layers.0.q_proj.weight: module [4, 4], checkpoint [4, 5]");
            StringAssert.Contains(e.Message, "lm_head.weight: module [10, 4], checkpoint [9, 4]");
            Assert.IsFalse(e.Message.Contains('\n'));
            CollectionAssert.AreEquivalent(new[] { "model.layers.1.o_proj.weight", "model.scale" }, e.MissingKeys.ToArray());
            CollectionAssert.AreEqual(new[] { "model.layers.2.q_proj.weight" }, e.UnexpectedKeys.ToArray());
            Assert.AreEqual(2, e.ShapeMismatches.Count);

            var after = m.Snapshot();
            foreach (var (name, t) in before) AssertSameTensor(t, after[name], name + " must be unchanged");
            DisposeAll(after.Values);

            // Non-strict still refuses shape mismatches but tolerates missing/unexpected keys.
            var e2 = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadInto(m, sd, strict: false));
            Assert.IsFalse(e2.Message.Contains("missing"));
            StringAssert.Contains(e2.Message, "2 shape mismatches");
        }
        finally
        {
            DisposeAll(before.Values);
            DisposeAll(sd.Values);
        }
    }

    [TestMethod]
    public void LoadInto_ManyMissing_ListsFirstFewAndCount()
    {
        using var m = new TinyModel(4, 2);
        var e = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadInto(m, new Dictionary<string, Tensor>()));
        StringAssert.Contains(e.Message, "9 missing keys (");
        StringAssert.Contains(e.Message, "... 4 more)");
        Assert.AreEqual(9, e.MissingKeys.Count);
    }

    [TestMethod]
    public void LoadInto_Success_CopiesValues_AndNonStrictSkipsExtras()
    {
        using var m = new TinyModel();
        var snap = m.Snapshot();
        var sd = snap.ToDictionary(p => p.Key, p => torch.randn_like(p.Value));
        try
        {
            CheckpointFolder.LoadInto(m, sd);
            var after = m.Snapshot();
            foreach (var (name, t) in sd) AssertSameTensor(t, after[name], name);
            DisposeAll(after.Values);
            Assert.IsTrue(m.parameters().All(p => p.requires_grad), "parameters stay trainable");

            using var extra = torch.ones(3);
            var partial = new Dictionary<string, Tensor> { ["lm_head.weight"] = torch.zeros(10, 4), ["not.a.param"] = extra };
            CheckpointFolder.LoadInto(m, partial, strict: false);
            var after2 = m.Snapshot();
            Assert.AreEqual(0f, after2["lm_head.weight"].abs().sum().item<float>());
            AssertSameTensor(sd["model.embed_tokens.weight"], after2["model.embed_tokens.weight"], "untouched by partial load");
            DisposeAll(after2.Values);
            partial["lm_head.weight"].Dispose();
        }
        finally
        {
            DisposeAll(snap.Values);
            DisposeAll(sd.Values);
        }
    }

    [TestMethod]
    public void LoadInto_Bf16FileIntoFloat32Module_ConvertsExactly()
    {
        using var tmp = new TempDir();
        using var m = new TinyModel();
        var snap = m.Snapshot();
        var bf = snap.ToDictionary(p => p.Key, p => torch.randn_like(p.Value).to(ScalarType.BFloat16));
        string path = tmp["bf16.safetensors"];
        SafeTensors.Save(path, bf);
        var loaded = SafeTensors.Load(path);
        try
        {
            Assert.IsTrue(loaded.Values.All(t => t.dtype == ScalarType.BFloat16));
            CheckpointFolder.LoadInto(m, loaded);
            var after = m.Snapshot();
            foreach (var (name, t) in bf)
            {
                Assert.AreEqual(ScalarType.Float32, after[name].dtype, name);
                using var exact = t.to(ScalarType.Float32);
                AssertSameTensor(exact, after[name], name);
            }
            DisposeAll(after.Values);
        }
        finally
        {
            DisposeAll(snap.Values);
            DisposeAll(bf.Values);
            DisposeAll(loaded.Values);
        }
    }
}
