using System.Text.Json;
using Jamba.Checkpoints;
using TorchSharp;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

[TestClass]
public sealed class CheckpointFolderTests
{
    private static readonly string TinyDir = Fixture("hf-jamba-tiny");

    private static JambaConfig TinyConfig() => JambaConfig.Load(Path.Combine(TinyDir, "config.json"));

    [TestMethod]
    public void LoadStateDict_FixtureFolder_LoadsSingleFile()
    {
        var sd = CheckpointFolder.LoadStateDict(TinyDir, ScalarType.Float32, torch.CPU);
        try
        {
            Assert.AreEqual(767_440L, sd.Values.Sum(t => t.numel()));
            Assert.IsTrue(sd.Values.All(t => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU));
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Save_Sharded_WritesHfIndexAndShards_LoadGivesSameTensors()
    {
        using var tmp = new TempDir();
        string dir = tmp["ckpt"];
        var src = SafeTensors.Load(Path.Combine(TinyDir, "model.safetensors"));
        try
        {
            long total = src.Values.Sum(t => t.numel() * 4);
            CheckpointFolder.Save(dir, TinyConfig(), src, maxShardBytes: 1_000_000);

            var files = Directory.GetFiles(dir).Select(f => Path.GetFileName(f)!).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            CollectionAssert.AreEqual(new[] { "config.json", "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors", "model.safetensors.index.json" }, files);
            foreach (var f in files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)))
                Assert.IsTrue(new FileInfo(Path.Combine(dir, f)).Length <= 1_000_000 + 20_000, $"{f} too big");

            string indexText = File.ReadAllText(Path.Combine(dir, "model.safetensors.index.json"));
            StringAssert.StartsWith(indexText, "{\n  \"metadata\": {\n    \"total_size\": " + total + "\n  },\n  \"weight_map\": {\n    \"lm_head.weight\": \"model-0000");
            StringAssert.EndsWith(indexText, "\"\n  }\n}\n");
            using var index = JsonDocument.Parse(indexText);
            Assert.AreEqual(total, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
            var map = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            CollectionAssert.AreEquivalent(src.Keys.ToArray(), map.Keys.ToArray());
            var names = map.Keys.ToArray();
            CollectionAssert.AreEqual(names.OrderBy(n => n, StringComparer.Ordinal).ToArray(), names, "weight_map keys sorted");
            foreach (var (name, file) in map)
                Assert.IsTrue(SafeTensors.ReadHeader(Path.Combine(dir, file)).tensors.ContainsKey(name), $"{name} not in {file}");

            var back = CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU);
            try
            {
                Assert.AreEqual(src.Count, back.Count);
                foreach (var (name, t) in src) AssertSameTensor(t, back[name], name);
            }
            finally { DisposeAll(back.Values); }

            var cfg = JambaConfig.Load(Path.Combine(dir, "config.json"));
            Assert.AreEqual(64, cfg.HiddenSize);
            Assert.AreEqual("float32", cfg.ExtraFields["torch_dtype"]!.GetValue<string>());
        }
        finally { DisposeAll(src.Values); }
        Assert.AreEqual(1, Directory.GetFileSystemEntries(tmp.Path).Length, "no temporary sibling folders left");
    }

    [TestMethod]
    public void SplitIntoShards_FollowsHuggingFaceRule()
    {
        var plan = new List<(string, long)> { ("a", 40), ("b", 40), ("c", 30), ("d", 100), ("e", 10) };
        var shards = CheckpointFolder.SplitIntoShards(plan, 80);
        Assert.AreEqual("a,b|d|c,e", string.Join("|", shards.Select(s => string.Join(",", s))));
    }

    [TestMethod]
    public void Save_SingleFile_Bf16_TokenizerCopied_TiedHeadDropped()
    {
        using var tmp = new TempDir();
        string dir = tmp["single"];
        var cfg = TinyConfig();
        cfg.TieWordEmbeddings = true;
        using var emb = torch.randn(512, 64);
        using var head = torch.randn(512, 64);
        using var ids = torch.tensor(new long[] { 5, 6 });
        using var norm = torch.ones(64);
        var sd = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = emb, ["lm_head.weight"] = head, ["model.final_layernorm.weight"] = norm, ["some.ids"] = ids };
        string tokDir = Fixture("spm-bpe-2k");

        CheckpointFolder.Save(dir, cfg, sd, ScalarType.BFloat16, tokenizerSourceDir: tokDir);

        CollectionAssert.AreEquivalent(new[] { "config.json", "model.safetensors", "tokenizer.model" }, Directory.GetFiles(dir).Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(tokDir, "tokenizer.model")), File.ReadAllBytes(Path.Combine(dir, "tokenizer.model")));
        var (header, _) = SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors"));
        Assert.IsFalse(header.ContainsKey("lm_head.weight"), "tied head is not stored");
        Assert.AreEqual("BF16", header["model.embed_tokens.weight"].DType);
        Assert.AreEqual("I64", header["some.ids"].DType, "integer tensors keep their dtype");
        var back = CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU);
        try
        {
            using var expected = emb.to(ScalarType.BFloat16).to(ScalarType.Float32);
            AssertSameTensor(expected, back["model.embed_tokens.weight"], "emb");
            AssertSameTensor(ids, back["some.ids"], "ids");
        }
        finally { DisposeAll(back.Values); }
        var cfgBack = JambaConfig.Load(Path.Combine(dir, "config.json"));
        Assert.AreEqual("bfloat16", cfgBack.ExtraFields["torch_dtype"]!.GetValue<string>());
        Assert.IsTrue(cfgBack.TieWordEmbeddings);
    }

    [TestMethod]
    public void Save_ReplacesExistingFolderAtomically_OldShardsGone()
    {
        using var tmp = new TempDir();
        string dir = tmp["ckpt"];
        using var a = torch.randn(100, 100);
        using var b = torch.randn(100, 100);
        CheckpointFolder.Save(dir, TinyConfig(), new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, maxShardBytes: 50_000);
        Assert.IsTrue(File.Exists(Path.Combine(dir, "model-00002-of-00002.safetensors")));

        File.Copy(Fixture("spm-bpe-2k", "tokenizer.model"), Path.Combine(dir, "tokenizer.model"));

        // Saving back into the folder the tokenizer comes from must work: it is copied before the swap.
        CheckpointFolder.Save(dir, TinyConfig(), new Dictionary<string, Tensor> { ["a"] = b }, tokenizerSourceDir: dir);
        CollectionAssert.AreEquivalent(new[] { "config.json", "model.safetensors", "tokenizer.model" }, Directory.GetFiles(dir).Select(Path.GetFileName).ToArray());
        CollectionAssert.AreEqual(File.ReadAllBytes(Fixture("spm-bpe-2k", "tokenizer.model")), File.ReadAllBytes(Path.Combine(dir, "tokenizer.model")));
        CollectionAssert.AreEqual(new[] { "ckpt" }, Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName).ToArray());
        var sd = CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU);
        try { AssertSameTensor(b, sd["a"], "a"); }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Save_FailureLeavesOldFolderIntact()
    {
        using var tmp = new TempDir();
        string dir = tmp["ckpt"];
        using var a = torch.randn(10);
        CheckpointFolder.Save(dir, TinyConfig(), new Dictionary<string, Tensor> { ["a"] = a });
        var before = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));

        SafeTensors.OnTensorWriting = n => { if (n == "z") throw new IOException("simulated failure"); };
        try
        {
            Assert.ThrowsExactly<IOException>(() => CheckpointFolder.Save(dir, TinyConfig(), new Dictionary<string, Tensor> { ["a"] = a, ["z"] = a }));
        }
        finally { SafeTensors.OnTensorWriting = null; }

        CollectionAssert.AreEqual(before, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        CollectionAssert.AreEqual(new[] { "ckpt" }, Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName).ToArray(), "temporary folder removed");
    }

    [TestMethod]
    public void Save_RefusesToReplaceFolderWithForeignFiles()
    {
        using var tmp = new TempDir();
        string dir = tmp["precious"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "keep me");
        using var a = torch.randn(10);
        var e = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.Save(dir, TinyConfig(), new Dictionary<string, Tensor> { ["a"] = a }));
        StringAssert.Contains(e.Message, "notes.txt");
        Assert.AreEqual("keep me", File.ReadAllText(Path.Combine(dir, "notes.txt")));
    }

    [TestMethod]
    public void LoadStateDict_HfStyleShardedFolder()
    {
        using var tmp = new TempDir();
        string dir = tmp["hf"];
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(TinyDir, "config.json"), Path.Combine(dir, "config.json"));
        using var a = torch.randn(3, 4);
        using var b = torch.randn(5).to(ScalarType.BFloat16);
        using var c = torch.tensor(new long[] { 1, 2, 3 });
        SafeTensors.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["model.a"] = a, ["model.c"] = c });
        SafeTensors.Save(Path.Combine(dir, "model-00002-of-00002.safetensors"), new Dictionary<string, Tensor> { ["lm_head.b"] = b });
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """
            {
              "metadata": {
                "total_size": 82
              },
              "weight_map": {
                "lm_head.b": "model-00002-of-00002.safetensors",
                "model.a": "model-00001-of-00002.safetensors",
                "model.c": "model-00001-of-00002.safetensors"
              }
            }
            """);
        var sd = CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU);
        try
        {
            CollectionAssert.AreEquivalent(new[] { "model.a", "model.c", "lm_head.b" }, sd.Keys.ToArray());
            AssertSameTensor(a, sd["model.a"], "a");
            AssertSameTensor(c, sd["model.c"], "c");
            using var bf = b.to(ScalarType.Float32);
            AssertSameTensor(bf, sd["lm_head.b"], "b");
        }
        finally { DisposeAll(sd.Values); }
    }

    private static string MakeShardedFolder(TempDir tmp, string indexWeightMap)
    {
        string dir = tmp["bad"];
        Directory.CreateDirectory(dir);
        using var a = torch.randn(2);
        SafeTensors.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), "{\"metadata\":{\"total_size\":8},\"weight_map\":" + indexWeightMap + "}");
        return dir;
    }

    [TestMethod]
    [DataRow("{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}", "model-00002-of-00002.safetensors, which is missing")]
    [DataRow("{\"a\":\"model-00001-of-00002.safetensors\",\"q\":\"model-00001-of-00002.safetensors\"}", "maps 'q' to shard model-00001-of-00002.safetensors, but that shard has no tensor 'q'")]
    [DataRow("{\"a\":\"../model-00001-of-00002.safetensors\"}", "not a plain file name")]
    [DataRow("{\"a\":3}", "expected a shard file name")]
    [DataRow("[]", "no \\\"weight_map\\\" object")]
    public void LoadStateDict_BadIndex_ThrowsNamingTheProblem(string weightMap, string expected)
    {
        using var tmp = new TempDir();
        string dir = MakeShardedFolder(tmp, weightMap);
        var e = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU));
        StringAssert.Contains(e.Message, expected.Replace("\\\"", "\""));
    }

    [TestMethod]
    public void LoadStateDict_IndexNotJson()
    {
        using var tmp = new TempDir();
        string dir = tmp["x"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), "{ nope");
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU)).Message, "is not valid JSON");
    }

    [TestMethod]
    [DataRow("pytorch_model.bin")]
    [DataRow("weights.pt")]
    [DataRow("model.pth")]
    [DataRow("last.ckpt")]
    [DataRow("pytorch_model.bin.index.json")]
    public void LoadStateDict_PickleOnlyFolder_IsRefusedWithoutReading(string file)
    {
        using var tmp = new TempDir();
        string dir = tmp["pickle"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(dir, file), new byte[] { 0x80, 0x02, 0x63, 0x6f, 0x73, 0x0a });   // "cos\n": a code-running pickle prefix
        var e = Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(dir, ScalarType.Float32, torch.CPU));
        StringAssert.Contains(e.Message, file);
        StringAssert.Contains(e.Message, "pickle checkpoints are refused for safety");
        StringAssert.Contains(e.Message, "convert it to safetensors");
    }

    [TestMethod]
    public void LoadStateDict_MissingOrEmptyFolder()
    {
        using var tmp = new TempDir();
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(tmp["absent"], ScalarType.Float32, torch.CPU)).Message, "checkpoint folder not found");
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(tmp.Path, ScalarType.Float32, torch.CPU)).Message, "has neither model.safetensors nor model.safetensors.index.json");
        File.WriteAllText(tmp["f"], "x");
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => CheckpointFolder.LoadStateDict(tmp["f"], ScalarType.Float32, torch.CPU)).Message, "is a file");
    }
}
