import { DRUG_NAMES } from "../dictionaries/drugs.js";
import { MEDICAL_TERMS } from "../dictionaries/medical-terms.js";
import { WordTrie } from "./words.js";

/**
 * Every word list the built-in detectors look for, in one trie so a segment is scanned once.
 * Kinds: "drug", "medical-term", "lab", "dob-context", "greeting", "honorific",
 * "label:patient", "label:name", and "label:<detector>" for labelled identifiers.
 */

export const LABS = [
  "a1c",
  "hba1c",
  "hemoglobin a1c",
  "glucose",
  "inr",
  "pt/inr",
  "potassium",
  "sodium",
  "creatinine",
  "egfr",
  "bun",
  "ldl",
  "hdl",
  "ldl cholesterol",
  "triglycerides",
  "tsh",
  "free t4",
  "psa",
  "wbc",
  "hemoglobin",
  "hgb",
  "hematocrit",
  "platelets",
  "anc",
  "alt",
  "ast",
  "troponin",
  "bnp",
  "cholesterol",
  "ferritin",
  "vitamin d",
  "albumin",
  "bilirubin",
  "calcium",
  "magnesium",
  "lactate",
  "crp",
  "esr",
  "phq-9",
  "gad-7",
  "urine albumin/creatinine",
  "viral load",
  "cd4",
  "blood pressure",
  "bp",
  "spo2",
  "oxygen saturation",
];

export const DOB_WORDS = [
  "dob",
  "d.o.b",
  "date of birth",
  "birth date",
  "birthdate",
  "born",
  "birthday",
  "fecha de nacimiento",
];

/** Labels that mark the name after them as a patient's (or a member's, a claimant's …). */
export const PATIENT_LABELS = [
  "patient",
  "patient name",
  "pt",
  "pt name",
  "member",
  "member name",
  "subscriber",
  "insured",
  "claimant",
  "beneficiary",
  "resident",
  "client",
  "guarantor",
  "responsible party",
  "my patient",
  "our patient",
  "mutual patient",
  "shared patient",
  "your patient",
  "the patient",
  "my mother",
  "my father",
  "my son",
  "my daughter",
  "my wife",
  "my husband",
];
export const OTHER_NAME_LABELS = ["name", "re", "regarding", "full name", "legal name"];

export const IDENTIFIER_LABELS: Record<string, readonly string[]> = {
  "health-plan-id": [
    "member id",
    "member #",
    "member number",
    "member no",
    "subscriber id",
    "subscriber #",
    "subscriber number",
    "insurance id",
    "insured id",
    "policy number",
    "policy #",
    "policy id",
    "plan member id",
    "medicaid id",
    "medicaid #",
    "medicaid number",
    "beneficiary id",
    "health plan id",
    "insurance number",
    "member",
    "subscriber",
    "recipient id",
    "eligibility id",
  ],
  mrn: [
    "mrn",
    "mrn#",
    "medical record",
    "medical record number",
    "med rec",
    "medrec",
    "chart",
    "chart number",
    "chart #",
    "patient id",
    "patient #",
    "patient number",
    "pt id",
    "hospital number",
    "record number",
    "emr",
    "ehr id",
  ],
  "claim-number": ["claim", "claim number", "claim #", "claim no", "claim id", "icn", "dcn"],
  "bank-account": [
    "bank account",
    "checking account",
    "savings account",
    "acct",
    "account number",
    "iban",
    "deposit account",
    "checking",
    "savings",
  ],
};

export const VOCABULARY = new WordTrie()
  .addAll(DRUG_NAMES, "drug")
  .addAll(MEDICAL_TERMS, "medical-term")
  .addAll(LABS, "lab")
  .addAll(DOB_WORDS, "dob-context")
  .addAll(["dear", "hi", "hello"], "greeting")
  .addAll(["mr", "mrs", "ms", "miss", "mx", "sr", "sra", "srta"], "honorific")
  .addAll(PATIENT_LABELS, "label:patient")
  .addAll(OTHER_NAME_LABELS, "label:name");
for (const [detector, labels] of Object.entries(IDENTIFIER_LABELS)) {
  VOCABULARY.addAll(labels, `label:${detector}`);
}
