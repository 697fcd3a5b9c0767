/**
 * Clinical words (conditions, clinical services, procedures, clinical findings) for the
 * `medical-term` detector, lower case; phrases are matched word for word. A term alone is
 * health information only when the policy pairs it with someone it is about.
 */
export const MEDICAL_TERMS: readonly string[] = `
diabetes|diabetic|hypertension|hyperlipidemia|hypothyroidism|hyperthyroidism|asthma|copd
emphysema|pneumonia|bronchitis|tuberculosis|hepatitis|cirrhosis|pancreatitis|cancer|carcinoma
malignant neoplasm|neoplasm|tumor|tumour|lymphoma|leukemia|leukaemia|melanoma|sarcoma|metastatic
metastases|metastasis|chemotherapy|radiation therapy|radiotherapy|immunotherapy|oncology|oncologist
cardiology|cardiologist|nephrology|neurology|psychiatry|psychiatric|psychotherapy|behavioral health
mental health|dermatology|gastroenterology|endocrinology|rheumatology|urology|gynecology|obstetrics
orthopedics|orthopaedic|radiology|hematology|infectious disease|palliative|hospice|dialysis
depression|depressive|anxiety|bipolar|schizophrenia|psychosis|ptsd|adhd|autism|dementia|alzheimer
parkinson|epilepsy|seizure|seizures|stroke|migraine|multiple sclerosis|neuropathy|radiculopathy
atrial fibrillation|heart failure|myocardial infarction|coronary artery disease|angina|arrhythmia
cardiomyopathy|chest pain|palpitations|hypotension|syncope|anemia|anaemia|sickle cell|hemophilia
hiv|aids|syphilis|gonorrhea|chlamydia|herpes|hpv|sexually transmitted|std|sti|covid-19|influenza
kidney disease|renal failure|ckd|nephropathy|retinopathy|glaucoma|cataract|macular degeneration
osteoporosis|osteoarthritis|arthritis|rheumatoid|lupus|fibromyalgia|gout|fracture|sprain
low back pain|back pain|disc bulge|herniation|stenosis|scoliosis|tendinitis|bursitis
obesity|bmi|eating disorder|anorexia|bulimia|substance use|alcohol use disorder|opioid use disorder
overdose|addiction|withdrawal|detox|rehab|rehabilitation|physical therapy|occupational therapy
pregnancy|pregnant|prenatal|postpartum|miscarriage|abortion|infertility|ivf|contraception
mammogram|mammography|biopsy|colonoscopy|endoscopy|mri|ct scan|pet scan|ultrasound|x-ray|ecg|ekg
echocardiogram|stress test|catheterization|angioplasty|stent|bypass|surgery|surgical|procedure
discharge summary|discharged|admitted|admission|inpatient|outpatient|emergency department
diagnosis|diagnosed|prognosis|symptoms|infection|sepsis|wound|ulcer|abscess|cellulitis
allergy|allergic|anaphylaxis|immunization|vaccination|transplant|amputation|prosthesis
insulin|hyperglycemia|hypoglycemia|prediabetes|a1c|inr|anticoagulation|opioid|controlled substance
suicidal|suicide|self-harm|hallucinations|insomnia|sleep apnea|incontinence|dysphagia|dizziness
infusion|medications|medication|prescription|refill|lab results|labs|test results|pathology
`
  .trim()
  .split(/[|\n]/)
  .map((t) => t.trim())
  .filter((t) => t.length > 0);
