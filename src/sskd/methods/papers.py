"""The publications the methods implement (BASELINES.md §0, SSKD.md, HSSAKD.md), one constant
each, so a method and its init stages cite the same one."""

from sskd.methods.base import Paper

KD = Paper("KD", "Hinton, Vinyals, Dean", "Distilling the Knowledge in a Neural Network",
           "NIPS Deep Learning Workshop", 2014)
FITNET = Paper("FitNet", "Romero, Ballas, Kahou, Chassang, Gatta, Bengio", "FitNets: Hints for Thin Deep Nets",
               "ICLR", 2015)
AT = Paper("AT", "Zagoruyko, Komodakis", "Paying More Attention to Attention: Improving the Performance of "
           "Convolutional Neural Networks via Attention Transfer", "ICLR", 2017)
SP = Paper("SP", "Tung, Mori", "Similarity-Preserving Knowledge Distillation", "ICCV", 2019)
CC = Paper("CC", "Peng, Jin, Liu, Li, Wu, Liu, Zhou, Zhang", "Correlation Congruence for Knowledge Distillation",
           "ICCV", 2019)
VID = Paper("VID", "Ahn, Hu, Damianou, Lawrence, Dai", "Variational Information Distillation for Knowledge "
            "Transfer", "CVPR", 2019)
RKD = Paper("RKD", "Park, Kim, Lu, Cho", "Relational Knowledge Distillation", "CVPR", 2019)
PKT = Paper("PKT", "Passalis, Tefas", "Learning Deep Representations with Probabilistic Knowledge Transfer",
            "ECCV", 2018)
AB = Paper("AB", "Heo, Lee, Yun, Choi", "Knowledge Transfer via Distillation of Activation Boundaries Formed by "
           "Hidden Neurons", "AAAI", 2019)
FT = Paper("FT", "Kim, Park, Kwak", "Paraphrasing Complex Network: Network Compression via Factor Transfer",
           "NeurIPS", 2018)
FSP = Paper("FSP", "Yim, Joo, Bae, Kim", "A Gift from Knowledge Distillation: Fast Optimization, Network "
            "Minimization and Transfer Learning", "CVPR", 2017)
NST = Paper("NST", "Huang, Wang", "Like What You Like: Knowledge Distill via Neuron Selectivity Transfer",
            "arXiv:1707.01219", 2017)
CRD = Paper("CRD", "Tian, Krishnan, Isola", "Contrastive Representation Distillation", "ICLR", 2020)
SSKD = Paper("SSKD", "Xu, Liu, Li, Loy", "Knowledge Distillation Meets Self-Supervision", "ECCV", 2020)
HSSAKD = Paper("HSSAKD", "Yang, An, Cai, Xu", "Knowledge Distillation Using Hierarchical Self-Supervision "
               "Augmented Distribution", "IEEE TNNLS", 2022)
