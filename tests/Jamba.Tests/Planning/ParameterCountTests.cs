using Jamba.Modeling;
using Jamba.Planning;

namespace Jamba.Tests.Planning;

[TestClass]
public sealed class ParameterCountTests
{
    // The speed-reference config, verbatim from shared/bench/bench-30m.json (copied so the test stands alone).
    private const string Bench30mJson = """
        {"model_type":"jamba","architectures":["JambaForCausalLM"],"vocab_size":8000,"hidden_size":512,"intermediate_size":1024,
         "num_hidden_layers":8,"num_attention_heads":8,"num_key_value_heads":2,"attn_layer_period":8,"attn_layer_offset":4,
         "expert_layer_period":2,"expert_layer_offset":1,"num_experts":8,"num_experts_per_tok":2,
         "mamba_d_state":16,"mamba_d_conv":4,"mamba_expand":2,"mamba_dt_rank":32,"mamba_conv_bias":true,"mamba_proj_bias":false,
         "pad_token_id":0,"bos_token_id":1,"eos_token_id":2,"tie_word_embeddings":false,"rms_norm_eps":1e-6,"hidden_act":"silu",
         "router_aux_loss_coef":0.001,"use_cache":true}
        """;

    private static void AssertWithin(double published, long actual, double tolerance, string what)
    {
        double rel = Math.Abs(actual - published) / published;
        Assert.IsTrue(rel <= tolerance, $"{what}: {actual:N0} is {rel:P2} from the published {published:N0}");
    }

    [TestMethod]
    public void Bench30mConfigHasExactlyThePublishedCount()
    {
        var fromJson = ParameterCount.Of(JambaConfig.FromJson(Bench30mJson));
        Assert.AreEqual(77_359_040L, fromJson.Total);
        Assert.AreEqual(77_359_040L, ParameterCount.Of(Presets.Small()).Total);
        // Active: 8.19M embedding+head, attention, 7 Mamba mixers, 4 dense MLPs, 4 MoE layers at 2 of 8 experts plus
        // routers, norms. The bench README's "about 32M active" is this figure without the embedding and head (31.4M).
        long expected = 8_192_000 + 655_360 + 7 * 1_694_784L + 4 * 1_572_864L + 4 * (2 * 1_572_864L + 512 * 8) + 8 * 2 * 512 + 512;
        Assert.AreEqual(expected, fromJson.Active);
        Assert.AreEqual(39_610_304L, fromJson.Active);
        Assert.AreEqual(31_418_304L, fromJson.Active - fromJson.Embedding - fromJson.LmHead);
    }

    [TestMethod]
    public void PublishedModelsWithinTwoPercent()
    {
        var jamba = ParameterCount.Of(Presets.JambaV01());
        AssertWithin(52e9, jamba.Total, 0.02, "Jamba total");
        AssertWithin(12e9, jamba.Active, 0.02, "Jamba active");
        var mixtral = ParameterCount.Of(Presets.Mixtral8x7B());
        AssertWithin(46.7e9, mixtral.Total, 0.02, "Mixtral total");
        AssertWithin(12.9e9, mixtral.Active, 0.02, "Mixtral active");
        AssertWithin(6.74e9, ParameterCount.Of(Presets.Llama2_7B()).Total, 0.02, "Llama-2-7B");
        AssertWithin(7.24e9, ParameterCount.Of(Presets.Mistral7B()).Total, 0.02, "Mistral-7B");
    }

    [TestMethod]
    public void PublishedModelsExactFigures()
    {
        // Hand-derived from the shapes; pins the arithmetic so a regression shows as a changed digit.
        Assert.AreEqual(51_570_323_328L, ParameterCount.Of(Presets.JambaV01()).Total);
        Assert.AreEqual(12_110_311_296L, ParameterCount.Of(Presets.JambaV01()).Active);
        Assert.AreEqual(46_702_792_704L, ParameterCount.Of(Presets.Mixtral8x7B()).Total);
        Assert.AreEqual(12_879_925_248L, ParameterCount.Of(Presets.Mixtral8x7B()).Active);
        Assert.AreEqual(6_738_415_616L, ParameterCount.Of(Presets.Llama2_7B()).Total);
        Assert.AreEqual(7_241_732_096L, ParameterCount.Of(Presets.Mistral7B()).Total);
    }

    [TestMethod]
    public void DenseModelsAreFullyActive()
    {
        var llama = ParameterCount.Of(Presets.Llama2_7B());
        Assert.AreEqual(llama.Total, llama.Active);
        Assert.AreEqual(0L, llama.MoeExperts);
        Assert.AreEqual(0L, llama.Routers);
        Assert.AreEqual(0L, llama.Mamba);
    }

    [TestMethod]
    public void ComponentsSumToTotalAndLayersAgree()
    {
        var p = ParameterCount.Of(Presets.JambaV01());
        Assert.AreEqual(p.Total, p.Embedding + p.LmHead + p.ScoreHead + p.Attention + p.Mamba + p.Mlp + p.MoeExperts + p.Routers + p.Norms);
        Assert.AreEqual(p.Total - p.Embedding - p.LmHead - p.Norms + p.Layers.Sum(l => l.Norms), p.Layers.Sum(l => l.Total));
        Assert.AreEqual(4, p.Layers.Count(l => l.Kind == LayerKind.Attention));
        Assert.AreEqual(16, p.Layers.Count(l => l.IsMoe));
    }

    [TestMethod]
    public void TiedHeadIsNotCounted()
    {
        var untied = ParameterCount.Of(Presets.Small());
        var c = Presets.Small(); c.TieWordEmbeddings = true;
        var tied = ParameterCount.Of(c);
        Assert.AreEqual(0L, tied.LmHead);
        Assert.AreEqual(untied.Total - 8000L * 512, tied.Total);
    }

    public static IEnumerable<object[]> SmallConfigs()
    {
        JambaConfig Base(Action<JambaConfig> change)
        {
            var c = new JambaConfig
            {
                VocabSize = 97, HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 5,
                NumAttentionHeads = 4, NumKeyValueHeads = 2, AttnLayerPeriod = 4, AttnLayerOffset = 1,
                ExpertLayerPeriod = 2, ExpertLayerOffset = 1, NumExperts = 4, NumExpertsPerTok = 2,
                MambaDState = 8, MambaDConv = 4, MambaExpand = 2, MambaDtRankValue = 4,
            };
            change(c);
            c.Validate();
            return c;
        }
        yield return new object[] { "hybrid moe untied", Base(_ => { }) };
        yield return new object[] { "tied", Base(c => c.TieWordEmbeddings = true) };
        yield return new object[] { "proj bias, no conv bias", Base(c => { c.MambaProjBias = true; c.MambaConvBias = false; }) };
        yield return new object[] { "no moe", Base(c => { c.NumExperts = 1; c.NumExpertsPerTok = 1; }) };
        yield return new object[] { "moe period 3, top-1, auto dt rank, expand 3", Base(c => { c.ExpertLayerPeriod = 3; c.ExpertLayerOffset = 2; c.NumExperts = 3; c.NumExpertsPerTok = 1; c.MambaDtRankValue = null; c.MambaExpand = 3; c.NumHiddenLayers = 7; }) };
        yield return new object[] { "classifier", Base(c => { c.Architectures = new() { "JambaForSequenceClassification" }; c.NumLabels = 3; c.TieWordEmbeddings = true; }) };
        yield return new object[] { "tiny preset", Presets.Tiny() };
        yield return new object[] { "tiny pure attention", Presets.FromName("tiny-pure-attention") };
        yield return new object[] { "tiny pure mamba", Presets.FromName("tiny-pure-mamba") };
    }

    [TestMethod]
    [DynamicData(nameof(SmallConfigs))]
    public void AnalyticCountEqualsModuleCount(string label, JambaConfig config)
    {
        long modules;
        if (config.IsSequenceClassifier)
        {
            using var m = new JambaForSequenceClassification(config);
            modules = m.parameters().Sum(p => p.numel());
        }
        else
        {
            using var m = new JambaForCausalLM(config);
            modules = m.parameters().Sum(p => p.numel());
        }
        Assert.AreEqual(modules, ParameterCount.Of(config).Total, label);
    }

    [TestMethod]
    public void ClassifierCountsScoreHeadInsteadOfLmHead()
    {
        var c = Presets.Small();
        c.NumLabels = 5;
        var lm = ParameterCount.Of(c, ModelHead.CausalLM);
        var cls = ParameterCount.Of(c, ModelHead.SequenceClassification);
        Assert.AreEqual(0L, cls.LmHead);
        Assert.AreEqual(5L * 512, cls.ScoreHead);
        Assert.AreEqual(lm.Total - lm.LmHead + 5L * 512, cls.Total);
        // Even with a tied config, the classifier's score head is separate and counted.
        c.TieWordEmbeddings = true;
        Assert.AreEqual(5L * 512, ParameterCount.Of(c, ModelHead.SequenceClassification).ScoreHead);
    }

    [TestMethod]
    public void BenchModuleCountEqualsAnalytic()
    {
        var config = JambaConfig.FromJson(Bench30mJson);
        using var m = new JambaForCausalLM(config);
        Assert.AreEqual(77_359_040L, m.parameters().Sum(p => p.numel()));
    }
}
