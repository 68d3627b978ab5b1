using System.Text.Json;
using Jamba.Checkpoints;
using TorchSharp;
using static Jamba.Tests.Checkpoints.CkptTestUtil;
using static TorchSharp.torch;

namespace Jamba.Tests.Checkpoints;

[TestClass]
public sealed class SafeTensorsTests
{
    private static readonly string ModelFile = Fixture("hf-jamba-tiny", "model.safetensors");
    private static readonly string ExpectedFile = Fixture("hf-jamba-tiny", "expected.safetensors");

    // ------------------------------------------------------------------ reading the reference fixtures

    [TestMethod]
    public void ReadHeader_ModelFixture_HasHfNamesShapesAndParameterCount()
    {
        var (tensors, metadata) = SafeTensors.ReadHeader(ModelFile);

        Assert.AreEqual("pt", metadata["format"]);
        CollectionAssert.AreEqual(new long[] { 512, 64 }, tensors["model.embed_tokens.weight"].Shape);
        CollectionAssert.AreEqual(new long[] { 512, 64 }, tensors["lm_head.weight"].Shape);
        CollectionAssert.AreEqual(new long[] { 128, 1, 4 }, tensors["model.layers.0.mamba.conv1d.weight"].Shape);
        CollectionAssert.AreEqual(new long[] { 24, 128 }, tensors["model.layers.0.mamba.x_proj.weight"].Shape);
        CollectionAssert.AreEqual(new long[] { 32, 64 }, tensors["model.layers.2.self_attn.k_proj.weight"].Shape);
        CollectionAssert.AreEqual(new long[] { 4, 64 }, tensors["model.layers.1.feed_forward.router.weight"].Shape);
        Assert.IsTrue(tensors.ContainsKey("model.layers.7.feed_forward.experts.3.down_proj.weight"));
        Assert.IsFalse(tensors.ContainsKey("model.layers.2.mamba.A_log"), "attention layer must not have Mamba weights");
        Assert.IsTrue(tensors.Values.All(t => t.DType == "F32"));
        // README: 767,440 parameters.
        Assert.AreEqual(767_440L, tensors.Values.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)));
        Assert.AreEqual(767_440L * 4, tensors.Values.Sum(t => t.ByteCount));
    }

    [TestMethod]
    public void Load_ModelFixture_ValuesEqualBytesReadIndependently()
    {
        var sd = SafeTensors.Load(ModelFile);
        try
        {
            Assert.AreEqual(SafeTensors.ReadHeader(ModelFile).tensors.Count, sd.Count);
            foreach (var name in new[] { "model.embed_tokens.weight", "model.layers.0.mamba.A_log", "model.layers.6.self_attn.o_proj.weight", "model.final_layernorm.weight" })
            {
                var (dtype, shape, raw) = ReadRaw(ModelFile, name);
                var t = sd[name];
                Assert.AreEqual("F32", dtype);
                Assert.AreEqual(ScalarType.Float32, t.dtype);
                CollectionAssert.AreEqual(shape, t.shape);
                var flat = t.flatten();
                for (int i = 0; i < raw.Length / 4; i += 37)
                    Assert.AreEqual(BitConverter.ToSingle(raw, i * 4), flat[i].item<float>(), $"{name}[{i}]");
                CollectionAssert.AreEqual(raw, Bytes(t), name);
            }
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Load_ExpectedFixture_ScalarsAndInt64AgainstInputsAndMeta()
    {
        var sd = SafeTensors.Load(ExpectedFile);
        try
        {
            using var meta = JsonDocument.Parse(File.ReadAllText(Fixture("hf-jamba-tiny", "meta.json")));
            using var inputs = JsonDocument.Parse(File.ReadAllText(Fixture("hf-jamba-tiny", "inputs.json")));

            var aux = sd["aux_loss"];
            Assert.AreEqual(0L, aux.dim());
            Assert.AreEqual(ScalarType.Float32, aux.dtype);
            Assert.AreEqual((float)meta.RootElement.GetProperty("values").GetProperty("aux_loss").GetDouble(), aux.item<float>());
            Assert.AreEqual((float)meta.RootElement.GetProperty("values").GetProperty("lm_loss").GetDouble(), sd["lm_loss"].item<float>());

            var greedy = sd["greedy_ids"];
            Assert.AreEqual(ScalarType.Int64, greedy.dtype);
            CollectionAssert.AreEqual(new long[] { 2, 32 }, greedy.shape);
            var ids = inputs.RootElement.GetProperty("input_ids");
            for (int b = 0; b < 2; b++)
            {
                var row = ids[b].EnumerateArray().Select(x => x.GetInt64()).ToArray();
                for (int t = 0; t < row.Length; t++) Assert.AreEqual(row[t], greedy[b, t].item<long>(), $"greedy_ids[{b},{t}] must start with the prompt");
            }
            var pooled = sd["cls_pooled_index"];
            CollectionAssert.AreEqual(new long[] { 2 }, pooled.shape);
            Assert.AreEqual(23L, pooled[0].item<long>());
            Assert.AreEqual(23L, pooled[1].item<long>());

            var (tensors, _) = SafeTensors.ReadHeader(ExpectedFile);
            Assert.AreEqual("I64", tensors["greedy_ids_nocache"].DType);
            CollectionAssert.AreEqual(Array.Empty<long>(), tensors["loss_with_aux"].Shape);
            Assert.AreEqual(4L, tensors["loss_with_aux"].ByteCount);
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Load_DtypeFilterAndIntegersKept()
    {
        var sd = SafeTensors.Load(ExpectedFile, ScalarType.Float64, torch.CPU, n => n.StartsWith("greedy_ids", StringComparison.Ordinal) || n == "aux_loss");
        try
        {
            CollectionAssert.AreEquivalent(new[] { "aux_loss", "greedy_ids", "greedy_ids_nocache" }, sd.Keys.ToArray());
            Assert.AreEqual(ScalarType.Float64, sd["aux_loss"].dtype);
            Assert.AreEqual(ScalarType.Int64, sd["greedy_ids"].dtype, "integer tensors must not be converted");
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Save_ModelFixture_IsByteIdenticalToReferenceFile()
    {
        using var tmp = new TempDir();
        var sd = SafeTensors.Load(ModelFile);
        try
        {
            // Insertion order scrambled: the writer must sort like the reference writer.
            SafeTensors.Save(tmp["m.safetensors"], sd.Reverse());
            CollectionAssert.AreEqual(File.ReadAllBytes(ModelFile), File.ReadAllBytes(tmp["m.safetensors"]));
        }
        finally { DisposeAll(sd.Values); }
    }

    // ------------------------------------------------------------------ round trips

    private static Dictionary<string, Tensor> AllKinds()
    {
        var g = torch.manual_seed(1234);
        var f32 = torch.randn(new long[] { 3, 5 });
        f32[0, 0] = torch.tensor(float.NaN);
        f32[0, 1] = torch.tensor(float.NegativeInfinity);
        f32[0, 2] = torch.tensor(-0.0f);
        f32[0, 3] = torch.tensor(1e-42f); // subnormal
        return new Dictionary<string, Tensor>
        {
            ["f32"] = f32,
            ["bf16"] = torch.randn(new long[] { 4, 3 }).to(ScalarType.BFloat16),
            ["f16"] = torch.randn(new long[] { 2, 2, 3 }).to(ScalarType.Float16),
            ["f64"] = torch.randn(new long[] { 7 }, dtype: ScalarType.Float64),
            ["i64"] = torch.tensor(new long[] { long.MinValue, -1, 0, 1, long.MaxValue }),
            ["i32"] = torch.tensor(new[] { int.MinValue, 5, int.MaxValue }),
            ["i16"] = torch.tensor(new short[] { -3, 300 }),
            ["i8"] = torch.tensor(new sbyte[] { -128, 127 }),
            ["u8"] = torch.tensor(new byte[] { 0, 255, 7 }),
            ["bool"] = torch.tensor(new[] { true, false, true }),
            ["scalar"] = torch.tensor(3.25f),
            ["scalar_i64"] = torch.tensor(42L),
            ["empty"] = torch.empty(new long[] { 0, 5 }),
            ["empty_bf16"] = torch.empty(new long[] { 3, 0 }, ScalarType.BFloat16),
            ["transposed"] = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4).t(),
        };
    }

    [TestMethod]
    public void SaveLoad_RoundTrip_BitIdenticalForEveryDtypeScalarEmptyAndNonContiguous()
    {
        using var tmp = new TempDir();
        var src = AllKinds();
        try
        {
            string path = tmp["all.safetensors"];
            SafeTensors.Save(path, src, new Dictionary<string, string> { ["note"] = "héllo \"q\"\n" });
            var (header, meta) = SafeTensors.ReadHeader(path);
            Assert.AreEqual("pt", meta["format"]);
            Assert.AreEqual("héllo \"q\"\n", meta["note"]);
            Assert.AreEqual("BF16", header["bf16"].DType);
            Assert.AreEqual("F16", header["f16"].DType);
            Assert.AreEqual("BOOL", header["bool"].DType);
            Assert.AreEqual("I64", header["scalar_i64"].DType);
            CollectionAssert.AreEqual(new long[] { 4, 3 }, header["transposed"].Shape);

            var loaded = SafeTensors.Load(path);
            try
            {
                Assert.AreEqual(src.Count, loaded.Count);
                foreach (var (name, t) in src) AssertSameTensor(t, loaded[name], name);
                Assert.AreEqual(0L, loaded["scalar"].dim());
                Assert.AreEqual(3.25f, loaded["scalar"].item<float>());
                Assert.AreEqual(4f, loaded["transposed"][0, 1].item<float>());
            }
            finally { DisposeAll(loaded.Values); }

            // Header length is a multiple of 8 and data of every tensor is aligned to its element size.
            var bytes = File.ReadAllBytes(path);
            long n = BitConverter.ToInt64(bytes, 0);
            Assert.AreEqual(0L, n % 8);
            string headerText = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)n);
            StringAssert.StartsWith(headerText, "{\"__metadata__\":{\"format\":\"pt\",\"note\":");
            Assert.IsTrue(headerText.TrimEnd(' ').EndsWith('}'), "header padding must be spaces after the JSON");
            foreach (var info in header.Values)
            {
                int size = info.DType switch { "F64" or "I64" => 8, "F32" or "I32" => 4, "F16" or "BF16" or "I16" => 2, _ => 1 };
                Assert.AreEqual(0L, info.Begin % size, $"{info.Name} misaligned");
            }
            // Reference order: descending dtype size (I64 before F64 before F32 ... BOOL), then name.
            var order = header.Values.OrderBy(i => i.Begin).ThenBy(i => i.End).Select(i => i.Name).Where(s => !s.StartsWith("empty", StringComparison.Ordinal)).ToArray();
            CollectionAssert.AreEqual(new[] { "i64", "scalar_i64", "f64", "f32", "scalar", "transposed", "i32", "bf16", "f16", "i16", "i8", "u8", "bool" }, order);
        }
        finally { DisposeAll(src.Values); }
    }

    [TestMethod]
    public void SaveLoad_ChunkedPathForHugeTensors_RoundTrips()
    {
        // The path used above 2 GB (chunked copies through TorchSharp's stream helpers), forced on small tensors.
        using var tmp = new TempDir();
        var src = AllKinds();
        SafeTensors.SpanLimitOverride = 7;
        try
        {
            string path = tmp["chunked.safetensors"];
            SafeTensors.Save(path, src);
            var loaded = SafeTensors.Load(path, null, torch.CPU);
            try { foreach (var (name, t) in src) AssertSameTensor(t, loaded[name], name); }
            finally { DisposeAll(loaded.Values); }
            SafeTensors.SpanLimitOverride = null;
            var plain = tmp["plain.safetensors"];
            SafeTensors.Save(plain, src);
            CollectionAssert.AreEqual(File.ReadAllBytes(plain), File.ReadAllBytes(path));
        }
        finally
        {
            SafeTensors.SpanLimitOverride = null;
            DisposeAll(src.Values);
        }
    }

    [TestMethod]
    public void Load_Bf16AndF16ToFloat32_IsExact()
    {
        using var tmp = new TempDir();
        using var bf = torch.randn(new long[] { 64 }).mul(1000).to(ScalarType.BFloat16);
        using var hf = torch.randn(new long[] { 64 }).to(ScalarType.Float16);
        string path = tmp["h.safetensors"];
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["bf"] = bf, ["hf"] = hf });
        var sd = SafeTensors.Load(path, ScalarType.Float32, torch.CPU);
        try
        {
            Assert.AreEqual(ScalarType.Float32, sd["bf"].dtype);
            Assert.AreEqual(ScalarType.Float32, sd["hf"].dtype);
            var rawBf = ReadRaw(path, "bf").data;
            var rawHf = ReadRaw(path, "hf").data;
            var gotBf = sd["bf"].data<float>().ToArray();
            var gotHf = sd["hf"].data<float>().ToArray();
            for (int i = 0; i < 64; i++)
            {
                ushort b = BitConverter.ToUInt16(rawBf, 2 * i);
                Assert.AreEqual(BitConverter.Int32BitsToSingle(b << 16), gotBf[i], $"bf16[{i}]");
                Assert.AreEqual((float)BitConverter.ToHalf(rawHf, 2 * i), gotHf[i], $"f16[{i}]");
            }
        }
        finally { DisposeAll(sd.Values); }
    }

    [TestMethod]
    public void Save_IsAtomic_FailedWriteKeepsOldFileAndLeavesNoTempFiles()
    {
        using var tmp = new TempDir();
        string path = tmp["w.safetensors"];
        using var a = torch.ones(4, 4);
        using var b = torch.zeros(8);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        var before = File.ReadAllBytes(path);

        SafeTensors.OnTensorWriting = name => { if (name == "b") throw new IOException("disk full (simulated)"); };
        try
        {
            var e = Assert.ThrowsExactly<IOException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = b, ["b"] = b }));
            StringAssert.Contains(e.Message, "simulated");
        }
        finally { SafeTensors.OnTensorWriting = null; }

        CollectionAssert.AreEqual(before, File.ReadAllBytes(path), "old file must survive a failed save");
        CollectionAssert.AreEqual(new[] { "w.safetensors" }, Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName).ToArray(), "no temporary files may be left");

        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["b"] = b });
        Assert.IsTrue(SafeTensors.ReadHeader(path).tensors.ContainsKey("b"));
        Assert.AreEqual(1, Directory.GetFileSystemEntries(tmp.Path).Length);
    }

    [TestMethod]
    public void Save_RejectsDuplicateAndReservedNames()
    {
        using var tmp = new TempDir();
        using var a = torch.ones(2);
        var dup = new[] { KeyValuePair.Create("x", a), KeyValuePair.Create("x", a) };
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.Save(tmp["d.safetensors"], dup)).Message, "duplicate tensor name 'x'");
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.Save(tmp["d.safetensors"], new Dictionary<string, Tensor> { ["__metadata__"] = a })).Message, "reserved");
        Assert.AreEqual(0, Directory.GetFileSystemEntries(tmp.Path).Length);
    }

    [TestMethod]
    public void Save_RequiresGradTensor_IsWritten()
    {
        using var tmp = new TempDir();
        using var p = torch.randn(3, 3).requires_grad_(true);
        SafeTensors.Save(tmp["g.safetensors"], new Dictionary<string, Tensor> { ["p"] = p });
        var sd = SafeTensors.Load(tmp["g.safetensors"]);
        try
        {
            AssertSameTensor(p.detach(), sd["p"], "p");
            Assert.IsFalse(sd["p"].requires_grad);
        }
        finally { DisposeAll(sd.Values); }
    }

    // ------------------------------------------------------------------ corrupt files

    private const string Good = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";

    private static byte[] CorruptBytes(string kind) => kind switch
    {
        "tiny" => new byte[] { 1, 2, 3, 4, 5 },
        "header_beyond_file" => RawFile(Good, new byte[24], headerLengthOverride: 5000),
        "header_absurd" => RawFile(Good, new byte[24], headerLengthOverride: 1UL << 40),
        "header_zero" => RawFile("", Array.Empty<byte>()),
        "not_json" => RawFile("this is not json at all!", new byte[8]),
        "json_array" => RawFile("[1,2,3]", new byte[8]),
        "bad_utf8" => RawFile("{\"aa\":1}", new byte[8]).Select((b, i) => i == 11 ? (byte)0xFF : b).ToArray(), // 'a' -> invalid byte
        "data_truncated" => RawFile(Good, new byte[20]),
        "size_mismatch" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", new byte[24]),
        "overlap" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
        "negative_offset" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", new byte[8]),
        "end_before_begin" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,4]}}", new byte[8]),
        "unknown_dtype" => RawFile("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]),
        "unsupported_dtype" => RawFile("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[8]),
        "duplicate" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]),
        "negative_dim" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
        "shape_overflow" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", new byte[8]),
        "zero_dim_overflow" => RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],\"data_offsets\":[0,0]}}", new byte[8]),
        "huge_offsets" => RawFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[1000000000000],\"data_offsets\":[0,1000000000000]}}", new byte[8]),
        "missing_fields" => RawFile("{\"a\":{\"dtype\":\"F32\"}}", new byte[8]),
        "metadata_not_strings" => RawFile("{\"__metadata__\":{\"format\":1}}", new byte[8]),
        "pickle_zip" => new byte[] { (byte)'P', (byte)'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0 },
        "pickle_raw" => new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8 },
        _ => throw new ArgumentException(kind),
    };

    [TestMethod]
    [DataRow("tiny", "shorter than the 8-byte")]
    [DataRow("header_beyond_file", "header length 5000 bytes goes beyond the end")]
    [DataRow("header_absurd", "is absurd")]
    [DataRow("header_zero", "header length is 0")]
    [DataRow("not_json", "not valid JSON")]
    [DataRow("json_array", "expected an object")]
    [DataRow("bad_utf8", "header is not valid")]
    [DataRow("data_truncated", "truncated: tensor 'a' data_offsets [0, 24]")]
    [DataRow("size_mismatch", "needs 24 bytes")]
    [DataRow("overlap", "'b' [4, 12) overlaps 'a' [0, 8)")]
    [DataRow("negative_offset", "invalid data_offsets")]
    [DataRow("end_before_begin", "end before begin")]
    [DataRow("unknown_dtype", "unknown dtype \"F33\"")]
    [DataRow("unsupported_dtype", "F8_E4M3 is valid safetensors but not supported")]
    [DataRow("duplicate", "duplicate tensor name 'a'")]
    [DataRow("negative_dim", "invalid shape")]
    [DataRow("shape_overflow", "too large")]
    [DataRow("zero_dim_overflow", "too large")]
    [DataRow("huge_offsets", "go beyond the end of the data")]
    [DataRow("missing_fields", "has no shape")]
    [DataRow("metadata_not_strings", "expected a string")]
    [DataRow("pickle_zip", "pickle")]
    [DataRow("pickle_raw", "refused")]
    public void CorruptFile_ThrowsCheckpointExceptionNamingTheProblem(string kind, string expected)
    {
        using var tmp = new TempDir();
        string path = tmp[kind + ".safetensors"];
        File.WriteAllBytes(path, CorruptBytes(kind));
        var e1 = Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.ReadHeader(path));
        StringAssert.Contains(e1.Message, expected);
        StringAssert.Contains(e1.Message, path, "message must name the file");
        Assert.IsFalse(e1.Message.Contains('\n'), "message must be one line");
        Assert.AreEqual(path, e1.FilePath);
        var e2 = Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.Load(path));
        Assert.AreEqual(e1.Message, e2.Message);
    }

    [TestMethod]
    public void MissingFileOrFolder_ThrowsCheckpointException()
    {
        using var tmp = new TempDir();
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.Load(tmp["nope.safetensors"])).Message, "not found");
        StringAssert.Contains(Assert.ThrowsExactly<CheckpointException>(() => SafeTensors.ReadHeader(tmp.Path)).Message, "is a folder");
    }

    [TestMethod]
    public void GapsBetweenTensorsAreTolerated_OnlyOverlapsAreErrors()
    {
        using var tmp = new TempDir();
        string path = tmp["gap.safetensors"];
        var data = new byte[16];
        BitConverter.GetBytes(1.5f).CopyTo(data, 0);
        BitConverter.GetBytes(-2.5f).CopyTo(data, 12);
        File.WriteAllBytes(path, RawFile("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", data));
        var sd = SafeTensors.Load(path);
        try
        {
            Assert.AreEqual(1.5f, sd["a"].item<float>());
            Assert.AreEqual(-2.5f, sd["b"][0].item<float>());
        }
        finally { DisposeAll(sd.Values); }
    }
}
