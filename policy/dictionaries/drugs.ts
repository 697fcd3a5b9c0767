/**
 * U.S. drug names (generic and common brand names) for the `drug` detector, lower case, one
 * word each (multi-word products are found by their distinctive word, e.g. "glargine").
 * Chosen from the most dispensed U.S. prescription drugs and the controlled substances most
 * often named in prior authorisations; a policy can add its own list.
 */
export const DRUG_NAMES: readonly string[] = `
abacavir abatacept acarbose acetaminophen acyclovir adalimumab albuterol alendronate allopurinol
alprazolam amiodarone amitriptyline amlodipine amoxicillin amphetamine ampicillin anastrozole
apixaban aripiprazole atenolol atomoxetine atorvastatin azathioprine azithromycin baclofen
benazepril benztropine bisoprolol budesonide bumetanide buprenorphine bupropion buspirone
butalbital canagliflozin candesartan captopril carbamazepine carbidopa carboplatin carvedilol
cefdinir cefuroxime celecoxib cephalexin cetirizine chlorthalidone ciprofloxacin cisplatin
citalopram clarithromycin clindamycin clobetasol clonazepam clonidine clopidogrel clozapine
colchicine cyclobenzaprine cyclophosphamide cyclosporine dabigatran dapagliflozin denosumab
desvenlafaxine dexamethasone dexmethylphenidate diazepam diclofenac dicyclomine digoxin diltiazem
diphenhydramine divalproex docetaxel donepezil doxazosin doxorubicin doxycycline dulaglutide
duloxetine dutasteride empagliflozin enalapril enoxaparin entecavir epinephrine ertugliflozin
erythromycin escitalopram esomeprazole estradiol eszopiclone etanercept ezetimibe famotidine
febuxostat fenofibrate fentanyl fexofenadine finasteride fluconazole fluoxetine fluticasone
fluvoxamine folic furosemide gabapentin gemfibrozil glargine glimepiride glipizide glyburide
guanfacine haloperidol heparin hydralazine hydrochlorothiazide hydrocodone hydrocortisone
hydromorphone hydroxychloroquine hydroxyzine ibuprofen indomethacin infliximab insulin
ipratropium irbesartan isoniazid isosorbide ivermectin ketorolac labetalol lacosamide lamotrigine
lansoprazole letrozole levetiracetam levofloxacin levothyroxine linagliptin liraglutide
lisdexamfetamine lisinopril lithium loratadine lorazepam losartan lovastatin lurasidone
meclizine medroxyprogesterone meloxicam memantine mercaptopurine mesalamine metformin methadone
methimazole methocarbamol methotrexate methylphenidate methylprednisolone metoclopramide
metolazone metoprolol metronidazole minocycline mirtazapine montelukast morphine mupirocin
mycophenolate nabumetone naloxone naltrexone naproxen nebivolol nifedipine nitrofurantoin
nitroglycerin nortriptyline nystatin olanzapine olmesartan omeprazole ondansetron oseltamivir
oxcarbazepine oxybutynin oxycodone paclitaxel paliperidone pantoprazole paroxetine pembrolizumab
penicillin phenobarbital phentermine phenytoin pioglitazone piperacillin potassium pramipexole
pravastatin prazosin prednisolone prednisone pregabalin primidone prochlorperazine promethazine
propranolol pseudoephedrine quetiapine quinapril rabeprazole raloxifene ramipril ranitidine
risperidone rituximab rivaroxaban rizatriptan ropinirole rosuvastatin sacubitril semaglutide
sertraline sildenafil simvastatin sitagliptin solifenacin sotalol spironolactone sucralfate
sulfamethoxazole sumatriptan tacrolimus tadalafil tamoxifen tamsulosin temazepam terazosin
terbinafine testosterone tirzepatide tizanidine topiramate torsemide tramadol trazodone
triamcinolone triamterene trimethoprim valacyclovir valproate valsartan vancomycin varenicline
venlafaxine verapamil warfarin zolpidem ziprasidone zonisamide lispro aspart detemir degludec
glulisine ceftriaxone cefazolin meropenem linezolid daptomycin filgrastim pegfilgrastim
trastuzumab bevacizumab nivolumab capecitabine oxaliplatin gemcitabine etoposide vincristine
leuprolide enzalutamide abiraterone ibrutinib imatinib lenalidomide bortezomib
adderall ambien ativan augmentin benadryl brilinta bystolic cialis concerta crestor cymbalta
depakote dilantin eliquis entresto farxiga flomax glucophage humalog humira jardiance januvia
keppra klonopin lamictal lantus lasix levaquin levemir lexapro lipitor lyrica mounjaro norco
novolog ozempic paxil percocet plavix pradaxa prilosec prozac seroquel singulair suboxone
synthroid tamiflu tradjenta trulicity tylenol valium vicodin victoza viagra vyvanse wegovy
wellbutrin xanax xarelto zetia zocor zoloft zyrtec toprol coumadin neurontin flexeril
dilaudid oxycontin ritalin strattera abilify risperdal zyprexa latuda invega keytruda
opdivo herceptin avastin revlimid gleevec imbruvica enbrel remicade stelara dupixent
`
  .trim()
  .split(/\s+/);
